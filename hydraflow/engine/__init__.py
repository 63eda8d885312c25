"""Executing a job: its steps (``workflow``), its state (``execution``), the pool of
processes and how each process starts.

Nothing here prints or imports Rich or Invoke; everything reaches the user as
events sent to the observers the front ends pass in.
"""
