"""JupyterHub configuration of the class (``backprop-grade hub start``, ``make hub``).

Run by JupyterHub as root after ``backprop-grade hub setup``; the state folder, the
ports and the accounts come from the environment that ``backprop-grade hub start`` sets:
``BACKPROP_HUB_STATE`` (default ``/srv/backprop-hub``), ``BACKPROP_HUB_ENV`` (default
``/opt/backprop-hub/env``), ``BACKPROP_HUB_PORT`` (the public
port, default 8000: the proxy listens there, its API on the next port, the hub itself on
the one after).  On a real server change the marked lines: TLS, the authenticator.
"""

import json
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when JupyterHub loads this file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from backprop_hub.auth import DemoAuthenticator  # noqa: E402

STATE = Path(os.environ.get("BACKPROP_HUB_STATE", "/srv/backprop-hub"))
PORT = int(os.environ.get("BACKPROP_HUB_PORT", "8000"))
ENV = Path(os.environ.get("BACKPROP_HUB_ENV", "/opt/backprop-hub/env"))
ACCOUNTS = json.loads((STATE / "hub" / "accounts.json").read_text())
COURSES = json.loads((STATE / "class.json").read_text())

# -- Network: the proxy (npm's configurable-http-proxy) is the only public port ---------
# A real server: c.JupyterHub.ip = "0.0.0.0", c.JupyterHub.ssl_cert / ssl_key (or TLS at
# a reverse proxy in front).
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = PORT
c.ConfigurableHTTPProxy.command = [str(STATE / "node/node_modules/.bin/configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 1}"
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = PORT + 2
c.JupyterHub.db_url = f"sqlite:///{STATE / 'hub' / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "hub" / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "hub" / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True

# -- Accounts: the demo's own passwords (see backprop_hub/auth.py for PAM, OAuth, LTI) --
c.JupyterHub.authenticator_class = DemoAuthenticator
c.DemoAuthenticator.accounts_file = str(STATE / "hub" / "accounts.json")
c.Authenticator.allowed_users = set(ACCOUNTS)

# -- Single-user servers: JupyterLab, each as its own local user ------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [str(ENV / "bin" / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 90
c.Spawner.http_timeout = 90


def _per_role(spawner):
    """Students get the edition and nbgrader's student side; instructors the whole course
    (grader included) and formgrader, in their course root."""
    role = ACCOUNTS.get(spawner.user.name, {}).get("role", "student")
    spawner.environment.update(
        {
            "PATH": f"{ENV / 'bin'}:/usr/local/bin:/usr/bin:/bin",
            "JUPYTER_CONFIG_PATH": str(STATE / "config" / role),
            "MPLBACKEND": "agg",
            "PYTHONPATH": str(STATE / "edition" / "lib"),
        }
    )
    if role == "instructor":
        spawner.environment["PYTHONPATH"] = str(STATE / "instructor-lib")
        # formgrader works on the course root the server starts in: the first course taught
        first = next(co["course_id"] for co in COURSES if spawner.user.name in co["instructors"])
        spawner.notebook_dir = f"~/{first}"


c.Spawner.pre_spawn_hook = _per_role
