"""Local-only tooling: the `make run` stack and what tests share with it. Never shipped to Lambda."""
