"""Contact placeholders in message templates: `{first_name}`, or `{first_name|there}` with a fallback.

Templates are checked when they are saved (an unknown name is an error with
its position), so rendering never fails: a missing value becomes the fallback,
or nothing.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping

from chalicelib.errors import ValidationFailed

PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)(?:\|([^{}]*))?\}")


def check(template: str, known: Collection[str], field: str) -> None:
    unknown = [
        (match.group(1), match.start()) for match in PLACEHOLDER.finditer(template) if match.group(1) not in known
    ]
    if unknown:
        raise ValidationFailed(
            f"{field}: unknown placeholder {{{unknown[0][0]}}} at position {unknown[0][1]}; "
            f"known: {', '.join(sorted(known))}",
            field=field,
            details=[{"field": field, "placeholder": name, "position": position} for name, position in unknown],
        )


def render(template: str, values: Mapping[str, str | None]) -> str:
    def substitute(match: re.Match[str]) -> str:
        value = (values.get(match.group(1)) or "").strip()
        return value or (match.group(2) or "")

    return PLACEHOLDER.sub(substitute, template)
