"""Checkers behind the notebooks' test cells, one module per notebook.

They build the function whose finite differences judge a student's gradient (always from
the student's own forward pass) and the "suspects": gradients that known bugs produce,
computed by planting each bug in a reference, so a failing test can name the bug.
"""
