#!/usr/bin/env python3
"""The Mailseal add-on in a real Thunderbird, end to end.

One headless Thunderbird (Marionette) in a temporary HOME and profile, the add-on installed as
a temporary add-on, `mailseald native-host` registered as its native-messaging host through the
shipped wrapper, and a `mailseald serve` of its own holding Ann's key (imported from PKCS#12)
and trusting a throwaway CA. Then:

- read path: a signed, an encrypted, a tampered and a plain message in Local Folders are
  displayed, and the message display action must show the daemon's verdict;
- send path: Ann writes to Bob; the add-on's compose-security Experiment has the daemon sign and
  encrypt; the message an `aiosmtpd` sink on 127.0.0.1 receives must decrypt with Bob's key and
  verify against the CA with `openssl cms`, and the Sent copy must read back as encrypted and
  signed by Ann; to Carol, who has no certificate, the message goes out signed only; the compose
  action's popup lists who can receive encrypted mail, and its Encrypt / Sign toggles decide (to
  Carol with Encrypt on, the send is stopped with the reason and nothing leaves); with Ann's key
  locked, the add-on asks for the passphrase (a wrong one is asked again) and then sends, and
  when the prompt is cancelled the send is stopped with the reason and nothing leaves;
- a daemon that is down is reported as such, on display and on send (nothing leaves).

Needs the debug binaries (run.py builds them unless --no-build), `thunderbird`, `openssl`, and the
PyPI packages `marionette-driver` and `aiosmtpd`. Prints one line per test and a last line
"N passed, M failed"; exits 1 when anything failed. --keep keeps the temporary directory (logs,
profile) for a look.
"""

import argparse
import email
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ beside the sources
sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    REPO,
    Daemon,
    Pki,
    SmtpSink,
    TempDir,
    Thunderbird,
    text_entity,
    wait_for,
)

PASSWORD = "correct horse"


class Env:
    """What every test uses: set up once, since Thunderbird takes seconds to start."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.pki = Pki(tmp / "pki")
        for name in ("ann", "alice", "bob"):
            self.pki.user(name, f"{name}@example.com")
        self.pki.user("erin", f"erin@{INTERNAL}")
        self.pki.pkcs12("ann", PASSWORD)
        (tmp / "password").write_text(PASSWORD)
        policy = f'[compose]\nencrypt_required_domains = ["{INTERNAL}"]\n'
        self.daemon = Daemon(tmp / "daemon", self.pki.ca, policy)
        self.daemon.cli("import", self.pki.dir / "ann.p12", "--password-file", tmp / "password")
        for name in ("bob", "erin"):
            self.daemon.cli("certs", "import", self.pki.dir / f"{name}.pem")
        self.sink = SmtpSink()
        self.thunderbird = None
        started = time.monotonic()
        try:
            self.thunderbird = Thunderbird(tmp / "thunderbird", self.daemon)
            self.thunderbird.install_addon()
            # The add-on has started once it has told Thunderbird to leave decryption to it.
            wait_for(
                "the add-on to take over decryption (mailnews.p7m_external)",
                lambda: self.thunderbird.js('return Services.prefs.getBoolPref("mailnews.p7m_external", false);'),
                30,
            )
            self.thunderbird.create_accounts("ann@example.com", "Ann Example", self.sink.port)
        except BaseException:
            self.stop()
            raise
        print(f"# Thunderbird ready in {time.monotonic() - started:.1f}s", flush=True)

    def mail(self, name, data):
        path = self.tmp / f"{name}.eml"
        path.write_bytes(data)
        return self.thunderbird.add_message(path)

    def stop(self):
        if self.thunderbird:
            self.thunderbird.stop()
        self.sink.stop()
        self.daemon.stop()


# The company policy requires encryption for mail to this domain.
INTERNAL = "internal.example.org"


def headers(subject, message_id, sender="Alice <alice@example.com>"):
    return {
        "From": sender,
        "To": "Ann <ann@example.com>",
        "Subject": subject,
        "Date": "Mon, 23 Nov 2026 10:00:00 +0000",
        "Message-ID": f"<{message_id}@example.com>",
    }


# -- read path ------------------------------------------------------------------------------


def test_signed_message_shows_the_signer(env):
    entity = text_entity("Hello Ann, this is signed.\n")
    message_id = env.mail("signed", env.pki.signed("alice", entity, headers("Signed hello", "signed")))
    env.thunderbird.display(message_id)
    env.thunderbird.wait_for_button("message", "signed by alice@example.com", badge="✔")


def test_encrypted_message_shows_encryption_and_the_signer(env):
    entity = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: text/plain; charset=UTF-8\r\n\r\nOnly for Ann.\r\n--b\r\n"
        b'Content-Type: text/csv; name="plan.csv"\r\nContent-Disposition: attachment; filename="plan.csv"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\nd2hvLHdoZW4KYW5uLG1vbmRheQo=\r\n--b--\r\n"
    )
    inner = env.pki.signed("alice", entity)
    message = env.pki.encrypted("ann", inner, headers("Encrypted hello", "encrypted"))
    env.thunderbird.display(env.mail("encrypted", message))
    # The badge is the signature's verdict; the title says that it was encrypted.
    env.thunderbird.wait_for_button("message", "Encrypted; signed by alice@example.com", badge="✔")
    # Thunderbird itself can only show smime.p7m; the add-on puts the decrypted message there.
    pane = wait_for("the decrypted message in the message pane", env.thunderbird.message_pane)
    assert pane["text"].strip() == "Only for Ann.", pane
    assert pane["banner"] == "Mailseal: decrypted for you — Encrypted; signed by alice@example.com", pane
    assert pane["attachments"] == [{"name": "plan.csv", "label": "plan.csv (20 bytes)"}], pane
    # A plain message shown next gets no decrypted view.
    plain = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers("After", "after").items())
    env.thunderbird.display(env.mail("after", plain + b"Content-Type: text/plain\r\n\r\nPlain.\r\n"))
    env.thunderbird.wait_for_button("message", "Not signed or encrypted")
    assert env.thunderbird.message_pane() is None


def test_tampered_message_names_the_failed_check(env):
    signed = env.pki.signed("alice", text_entity("Pay Bob 10 euros.\n"), headers("Tampered", "tampered"))
    tampered = signed.replace(b"Pay Bob 10 euros.", b"Pay Bob 99 euros.")
    assert tampered != signed
    env.thunderbird.display(env.mail("tampered", tampered))
    env.thunderbird.wait_for_button("message", "signature NOT valid (message unchanged failed)", badge="✘")


def test_plain_message_is_neither(env):
    plain = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers("Plain", "plain").items())
    plain += b"Content-Type: text/plain\r\n\r\nNothing special.\r\n"
    env.thunderbird.display(env.mail("plain", plain))
    env.thunderbird.wait_for_button("message", "Not signed or encrypted")


# -- send path ------------------------------------------------------------------------------


def openssl(*args, input=None):
    done = subprocess.run(["openssl", *map(str, args)], input=input, capture_output=True, timeout=60)
    assert done.returncode == 0, f"openssl {' '.join(map(str, args))}: {done.stderr.decode(errors='replace')}"
    return done.stdout


def test_send_signed_and_encrypted(env):
    tb = env.thunderbird
    tb.compose("Bob <bob@example.com>", "Secret plan", "Hello Bob,\nthe plan is ready.\nGrüße, Ann\n", "ann@example.com")
    result = tb.send()
    assert result == {"sent": True, "error": None}, result
    captured = wait_for("the message at the SMTP sink", lambda: env.sink.messages, 30)
    assert len(captured) == 1, captured
    assert captured[0]["to"] == ["bob@example.com"], captured[0]["to"]
    data = captured[0]["data"]
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert "Subject: Secret plan" in head and "From: Ann Example <ann@example.com>" in head, head
    assert "application/pkcs7-mime" in head and "enveloped-data" in head, head
    assert b"the plan is ready" not in data
    sent = env.tmp / "sent.eml"
    sent.write_bytes(data)
    pki = env.pki.dir
    decrypted = openssl("cms", "-decrypt", "-in", sent, "-recip", pki / "bob.pem", "-inkey", pki / "bob.key")
    assert b"multipart/signed" in decrypted.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0], decrypted[:300]
    content = openssl("cms", "-verify", "-CAfile", env.pki.ca, input=decrypted)
    text = email.message_from_bytes(content).get_payload(decode=True).decode("utf-8")
    assert "the plan is ready" in text and "Grüße, Ann" in text, content
    signer = openssl("cms", "-verify", "-CAfile", env.pki.ca, "-signer", "/dev/stdout", "-out", "/dev/null", input=decrypted)
    subject = openssl("x509", "-noout", "-subject", "-ext", "subjectAltName", input=signer)
    assert b"ann@example.com" in subject, subject


def test_signed_only_when_a_recipient_has_no_certificate(env):
    tb = env.thunderbird
    before = len(env.sink.messages)
    tb.compose("carol@example.com", "Signed only", "Carol has no certificate.\n", "ann@example.com")
    result = tb.send()
    assert result == {"sent": True, "error": None}, result
    tb_messages = wait_for("the message at the SMTP sink", lambda: env.sink.messages[before:], 30)
    data = tb_messages[0]["data"]
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    assert "multipart/signed" in head and "application/pkcs7-signature" in head, head
    content = openssl("cms", "-verify", "-CAfile", env.pki.ca, input=data)
    # Thunderbird itself makes signed-only bodies 7-bit safe (base64), as for its own S/MIME.
    text = email.message_from_bytes(content).get_payload(decode=True).decode("utf-8")
    assert "Carol has no certificate." in text, content


def test_sent_copy_is_smime_and_reads_back(env):
    tb = env.thunderbird
    message_ids = tb.js(
        """
        const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
        const sent = MailServices.accounts.localFoldersServer.rootFolder.getChildNamed("Sent");
        return [...sent.messages].filter(h => h.mime2DecodedSubject == "Secret plan").map(h => h.messageId);
        """
    )
    assert len(message_ids) == 1, message_ids
    tb.display(message_ids[0], folder="Sent")
    tb.wait_for_button("message", "Encrypted; signed by ann@example.com", badge="✔")


def test_popup_shows_recipients_and_encrypt_without_a_certificate_stops_the_send(env):
    tb = env.thunderbird
    before = len(env.sink.messages)
    tb.compose("Carol <carol@example.com>", "Must be encrypted", "Not for the wire.\n", "ann@example.com")
    try:
        tb.open_compose_popup()
        state = tb.compose_popup_state()
        assert state["sign"] is True and state["encrypt"] is False, state
        assert len(state["recipients"]) == 1 and state["recipients"][0].startswith("✘ carol@example.com: "), state
        tb.in_compose_popup('d.getElementById("encrypt").click(); return true;')
        tb.wait_for_button("compose", "Mailseal: signed and encrypted")
        tb.close_compose_popup()
        result = tb.send()
        assert result["sent"] is False, result
        assert "carol@example.com" in result["error"], result
        time.sleep(1)
        assert len(env.sink.messages) == before, "a message reached the SMTP server"
    finally:
        tb.close_compose()


def test_popup_encrypt_without_signing(env):
    tb = env.thunderbird
    before = len(env.sink.messages)
    tb.compose("bob@example.com", "Encrypted only", "Unsigned but secret.\n", "ann@example.com")
    tb.open_compose_popup()
    state = tb.compose_popup_state()
    assert state["sign"] is True and state["encrypt"] is True, state
    assert state["recipients"][0].startswith("✔ bob@example.com: certificate"), state
    tb.in_compose_popup('d.getElementById("sign").click(); return true;')
    tb.wait_for_button("compose", "Mailseal: encrypted")
    tb.close_compose_popup()
    assert tb.send() == {"sent": True, "error": None}
    data = wait_for("the message at the SMTP sink", lambda: env.sink.messages[before:], 30)[0]["data"]
    assert b"enveloped-data" in data.split(b"\r\n\r\n", 1)[0], data[:600]
    sent = env.tmp / "encrypted-only.eml"
    sent.write_bytes(data)
    pki = env.pki.dir
    decrypted = openssl("cms", "-decrypt", "-in", sent, "-recip", pki / "bob.pem", "-inkey", pki / "bob.key")
    inner = email.message_from_bytes(decrypted)
    assert inner.get_content_type() == "text/plain", decrypted[:400]
    assert "Unsigned but secret." in inner.get_payload(decode=True).decode("utf-8"), decrypted


def test_policy_requires_encryption_to_an_internal_domain(env):
    tb = env.thunderbird
    before = len(env.sink.messages)
    tb.compose(f"Erin <erin@{INTERNAL}>", "Internal", "For the company only.\n", "ann@example.com")
    tb.open_compose_popup()
    state = tb.compose_popup_state()
    assert state["encrypt"] is True and state["encrypt_locked"] is True, state
    assert state["sign_locked"] is False, state
    assert state["policy"] == f"Required: company policy requires encryption for mail to {INTERNAL}.", state
    tb.in_compose_popup('d.getElementById("encrypt").click(); return true;')
    assert tb.compose_popup_state()["encrypt"] is True, "a required toggle cannot be switched off"
    tb.close_compose_popup()
    assert tb.send() == {"sent": True, "error": None}
    data = wait_for("the message at the SMTP sink", lambda: env.sink.messages[before:], 30)[0]["data"]
    assert b"enveloped-data" in data.split(b"\r\n\r\n", 1)[0], data[:600]
    assert b"For the company only." not in data
    sent = env.tmp / "internal.eml"
    sent.write_bytes(data)
    pki = env.pki.dir
    decrypted = openssl("cms", "-decrypt", "-in", sent, "-recip", pki / "erin.pem", "-inkey", pki / "erin.key")
    assert b"For the company only." in openssl("cms", "-verify", "-CAfile", env.pki.ca, input=decrypted)


PROMPT = "/prompt/unlock.html"


def wait_for_prompt(tb):
    return wait_for(
        "the passphrase prompt",
        lambda: tb.in_addon_page(PROMPT, 'return d.body?.dataset.ready == "true" && d.getElementById("why").textContent;'),
        20,
    )


def test_locked_key_asks_for_the_passphrase_then_sends(env):
    tb = env.thunderbird
    before = len(env.sink.messages)
    env.daemon.cli("lock")
    tb.compose("bob@example.com", "After unlocking", "Sent once the key was unlocked.\n", "ann@example.com")
    tb.start_send()
    why = wait_for_prompt(tb)
    assert "ann@example.com" in why and "locked" in why, why
    tb.in_addon_page(PROMPT, 'd.getElementById("secret").value = "not it"; d.getElementById("ok").click(); return true;')
    note = wait_for(
        "the prompt again, saying the passphrase was wrong",
        lambda: tb.in_addon_page(PROMPT, 'return d.body?.dataset.ready == "true" && d.getElementById("note").textContent;'),
        20,
    )
    assert "wrong" in note, note
    tb.in_addon_page(PROMPT, f'd.getElementById("secret").value = {json.dumps(PASSWORD)}; d.getElementById("ok").click(); return true;')
    assert tb.send_outcome() == {"sent": True, "error": None}
    data = wait_for("the message at the SMTP sink", lambda: env.sink.messages[before:], 30)[0]["data"]
    assert b"enveloped-data" in data.split(b"\r\n\r\n", 1)[0], data[:600]
    wait_for("the prompt window to close", lambda: tb.in_addon_page(PROMPT, "return 1;") is None, 10)


def test_send_is_stopped_when_the_passphrase_prompt_is_cancelled(env):
    tb = env.thunderbird
    before = len(env.sink.messages)
    env.daemon.cli("lock")
    tb.compose("bob@example.com", "Locked", "This must not leave.\n", "ann@example.com")
    try:
        tb.start_send()
        wait_for_prompt(tb)
        tb.in_addon_page(PROMPT, 'd.getElementById("cancel").click(); return true;')
        result = tb.send_outcome()
        assert result["sent"] is False, result
        assert "Your key is locked" in result["error"], result
        time.sleep(1)
        assert len(env.sink.messages) == before, "a message reached the SMTP server"
    finally:
        tb.close_compose()


def test_daemon_down_is_reported(env):
    env.daemon.stop()
    inner = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers("While down", "down").items())
    env.thunderbird.display(env.mail("down", inner + b"Content-Type: text/plain\r\n\r\nHi.\r\n"))
    down = "Mailseal is not running: start it (systemctl --user start mailseald)."
    env.thunderbird.wait_for_button("message", down, badge="!")
    tb = env.thunderbird
    before = len(env.sink.messages)
    tb.compose("bob@example.com", "While down", "Not without Mailseal.\n", "ann@example.com")
    try:
        # Even with both toggles switched off by hand: the policy could not be asked, so the
        # message does not leave in clear.
        tb.open_compose_popup()
        tb.in_compose_popup('d.getElementById("sign").click(); d.getElementById("sign").click(); return true;')
        tb.wait_for_button("compose", "Mailseal: neither signed nor encrypted")
        tb.close_compose_popup()
        result = tb.send()
        assert result["sent"] is False and down in result["error"], result
        tb.wait_for_button("compose", f"Mailseal: {down}", badge="!")
        assert len(env.sink.messages) == before, "a message reached the SMTP server"
    finally:
        tb.close_compose()


TESTS = [
    test_signed_message_shows_the_signer,
    test_encrypted_message_shows_encryption_and_the_signer,
    test_tampered_message_names_the_failed_check,
    test_plain_message_is_neither,
    test_send_signed_and_encrypted,
    test_signed_only_when_a_recipient_has_no_certificate,
    test_sent_copy_is_smime_and_reads_back,
    test_popup_shows_recipients_and_encrypt_without_a_certificate_stops_the_send,
    test_popup_encrypt_without_signing,
    test_policy_requires_encryption_to_an_internal_domain,
    test_locked_key_asks_for_the_passphrase_then_sends,
    test_send_is_stopped_when_the_passphrase_prompt_is_cancelled,
    test_daemon_down_is_reported,  # last: it stops the daemon
]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-build", action="store_true", help="do not run `cargo build --bins` first")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("-k", metavar="TEXT", help="only the tests whose name contains TEXT")
    options = parser.parse_args()
    if not options.no_build:
        # The same build as the Rust end-to-end tests' (tests/src/lib.rs), so each reuses the other's.
        subprocess.run(
            ["cargo", "build", "--quiet", "--locked", "-p", "mailseal-daemon", "-p", "mailseal-cli", "--bins"],
            cwd=REPO,
            check=True,
        )
    tests = [t for t in TESTS if not options.k or options.k in t.__name__]
    tmp = TempDir(keep=options.keep)
    started = time.monotonic()
    passed = failed = 0
    env = None
    try:
        env = Env(tmp.path)
        for test in tests:
            t0 = time.monotonic()
            try:
                test(env)
                passed += 1
                print(f"ok   {test.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
            except Exception:  # noqa: BLE001 - every failure is reported and counted
                failed += 1
                print(f"FAIL {test.__name__} ({time.monotonic() - t0:.1f}s)", flush=True)
                traceback.print_exc()
    except Exception:  # noqa: BLE001 - a failed set-up fails every test
        traceback.print_exc()
        failed = len(tests) - passed
    finally:
        if env:
            env.stop()
        if failed or options.keep:
            noise = ("Gtk", "gtk_", "GDK_")
            for log in (tmp.path / "thunderbird" / "thunderbird.log", tmp.path / "daemon" / "mailseald.log"):
                if failed and log.exists():
                    lines = log.read_text(errors="replace").splitlines()
                    lines = [line for line in lines if line.strip() and not any(n in line for n in noise)]
                    print(f"# last lines of {log.name}:\n# " + "\n# ".join(lines[-30:]))
            print(f"# kept {tmp.path}" if options.keep else "", end="")
        tmp.remove()
    print(f"# {time.monotonic() - started:.1f}s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
