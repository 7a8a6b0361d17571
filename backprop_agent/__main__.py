"""``python -m backprop_agent AGENT_SOCKET -f CONNECTION_FILE``: a grading kernel."""

from .agent import main

main()
