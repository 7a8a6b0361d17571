"""A class on JupyterHub: accounts, a private nbgrader exchange, the student edition.

- :mod:`backprop_hub.exchange`: nbgrader's folder exchange with permissions that keep
  every student's submissions and feedback to themselves (nbgrader's pluggable exchange).
- :mod:`backprop_hub.edition`: what students get (release notebooks, the course library
  and the checks Validate runs; no solutions, no grader).
- :mod:`backprop_hub.setup`: users, groups, the exchange folders, the environment and the
  course roots of a demo class on this machine (``backprop-grade hub setup``).
- :mod:`backprop_hub.auth`: the demo's authenticator (one generated password per account).
- ``jupyterhub_config.py``: the hub (``backprop-grade hub start``, ``make hub``).
"""
