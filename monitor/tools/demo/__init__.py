"""`monitor demo`: the sample stream, the live view, the SQL it shows and the report (`run.run_demo`)."""
