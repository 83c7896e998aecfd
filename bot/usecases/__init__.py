"""The use cases: one module per thing that can happen (a command, a vote, a button, an engine result,
a deadline, a schedule, a read), all going through the load → apply → save → perform cycle."""
