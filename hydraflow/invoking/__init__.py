"""hydraflow's jobs as Invoke tasks: what the command line means (``command_line``) and
the one place that reaches into Invoke beyond its public API (``hooks``)."""
