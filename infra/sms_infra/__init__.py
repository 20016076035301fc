"""CDK constructs for the SMS engagement backend: one stack that embeds the Chalice app.

Everything the app addresses by name (tables, queues, topics, user groups,
the authorizer) is derived from the application code where possible, so the
infrastructure cannot drift from what the code expects.
"""
