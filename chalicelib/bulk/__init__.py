"""Bulk CSV imports: reading uploaded files as streams of rows (csv_stream) and naming their columns (headers).

Nothing here touches AWS: bytes go in, rows and column maps come out, so the Lambda pipeline can be tested
without S3 and can resume a file from a checkpointed byte offset.
"""
