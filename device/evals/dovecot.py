"""Dovecot (Debian's `dovecot-imapd`), a real IMAP server, on loopback over implicit TLS with a
certificate signed by itself, one user from a passwd-file, maildirs in a temp folder: for the mail
tests and `os1 eval mail`. Started as root, it runs its mail processes as the `dovecot` user."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from device.evals.radicale import free_port, self_signed, wait_listening


class DovecotServer:
    def __init__(self, user: str = "sam", password: str = "river-house"):
        if shutil.which("dovecot") is None:
            raise RuntimeError("dovecot is not installed: run make apt (it installs dovecot-imapd)")
        # Its own folder, which the dovecot user can reach (pytest's tmp_path is 0700 root's).
        self.folder = Path(tempfile.mkdtemp(prefix="os1-dovecot-"))
        self.folder.chmod(0o755)
        self.user, self.password = user, password
        self.port = free_port()
        self.cert: Path | None = None
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30) -> DovecotServer:
        f = self.folder
        for sub in ("run", "state", "home"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        self.cert, key = self_signed(f)
        mail = pwd.getpwnam("dovecot")
        os.chown(f / "home", mail.pw_uid, mail.pw_gid)
        (f / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        config = f / "dovecot.conf"
        config.write_text(
            f"""protocols = imap
listen = 127.0.0.1
base_dir = {f}/run
state_dir = {f}/state
log_path = {f}/dovecot.log
ssl = required
ssl_cert = <{self.cert}
ssl_key = <{key}
disable_plaintext_auth = yes
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = {f}/passwd
}}
userdb {{
  driver = static
  args = uid={mail.pw_uid} gid={mail.pw_gid} home={f}/home/%u
}}
"""
        )
        self.proc = subprocess.Popen(
            ["dovecot", "-F", "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        wait_listening(self.proc, self.port, "dovecot", timeout_s, log=f / "dovecot.log")
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.kill()
        shutil.rmtree(self.folder, ignore_errors=True)
