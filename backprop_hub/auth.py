"""The demo class's authenticator: one generated password per account.

``backprop-grade hub setup`` writes ``<state>/hub/accounts.json`` (root only) and prints
the accounts.  Unlike JupyterHub's ``shared-password`` authenticator, one student's
password does not open another student's account.  For a real class replace it in
``jupyterhub_config.py``: ``c.JupyterHub.authenticator_class = "pam"`` (the machine's
accounts), ``"oauthenticator.generic.GenericOAuthenticator"`` (the university's single
sign-on) or ``"ltiauthenticator.lti13.auth.LTI13Authenticator"`` (launched from the LMS).
"""

from __future__ import annotations

import hmac
import json
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode


class DemoAuthenticator(Authenticator):
    """Users and passwords from a JSON file ``{user: {"password": ..., "role": ...}}``."""

    accounts_file = Unicode(help="the accounts JSON written by the class set-up").tag(config=True)

    def _accounts(self):
        return json.loads(Path(self.accounts_file).read_text())

    async def authenticate(self, handler, data):
        """The user name when its password matches, else None."""
        account = self._accounts().get(data.get("username", ""))
        given = data.get("password", "")
        if account and hmac.compare_digest(account["password"].encode(), given.encode()):
            return data["username"]
        return None
