"""Running a job: steps (``workflow``), the pool of processes, and the three modes.

Nothing here prints or imports Rich or Invoke; everything reaches the user as
events sent to the observers the front ends pass in.
"""
