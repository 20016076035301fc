"""Bulk CSV imports without AWS: files as streams of rows (csv_stream), their columns named (headers), and
each row validated into the change it asks for or a reason it is rejected (contact_rows).

Bytes go in, rows and changes come out, so the Lambda pipeline can be tested without S3 and can resume a file
from a checkpointed byte offset.
"""
