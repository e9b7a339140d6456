"""The pieces of the Thunderbird end-to-end test: a throwaway PKI made with `openssl`, the real
`mailseald serve` on a temporary socket, and a real Thunderbird (headless, driven over
Marionette) in a temporary HOME with the add-on installed as a temporary add-on and
`mailseald native-host` registered as its native-messaging host.

Nothing here touches the user's own HOME, profile, daemon or keys: every path is under one
temporary directory, removed at the end.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "target" / "debug"
ADDON = REPO / "extensions" / "thunderbird"
WRAPPER = REPO / "installer" / "native-messaging" / "mailseal-native-host"
ADDON_ID = "mailseal@example.com"


def run(args, cwd=None, input=None, env=None):
    """Runs a command; raises with its stderr when it fails; returns its stdout (bytes)."""
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, input=input, env=env, capture_output=True, timeout=60
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(map(str, args))} exited {done.returncode}: {done.stderr.decode(errors='replace')}"
        )
    return done.stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, predicate, timeout=30.0, step=0.1):
    """Polls `predicate` until it returns something truthy; raises naming `what` on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as error:  # noqa: BLE001 - reported if the wait times out
            last = error
        time.sleep(step)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


class Pki:
    """A CA and users made with `openssl`, as the Rust tests' `Pki` does."""

    def __init__(self, directory):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "30", "-subj", "/CN=Test CA",
            "-keyout", "ca.key", "-out", "ca.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip
        self.ca = self.dir / "ca.pem"

    def openssl(self, *args, input=None):
        return run(["openssl", *args], cwd=self.dir, input=input)

    def user(self, name, email):
        """An RSA user `name` for `email`: `<name>.key`, `<name>.pem`."""
        self.openssl(
            "req", "-new", "-nodes", "-newkey", "rsa:2048", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr",
        )  # fmt: skip
        (self.dir / f"{name}.ext").write_text(
            f"subjectAltName=email:{email}\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=emailProtection\n"
        )
        self.openssl(
            "x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "30", "-extfile", f"{name}.ext", "-out", f"{name}.pem",
        )  # fmt: skip
        return self.dir / f"{name}.pem"

    def pkcs12(self, name, password):
        self.openssl(
            "pkcs12", "-export", "-inkey", f"{name}.key", "-in", f"{name}.pem",
            "-certfile", "ca.pem", "-name", name, "-passout", f"pass:{password}",
            "-out", f"{name}.p12",
        )  # fmt: skip
        return self.dir / f"{name}.p12"

    def signed(self, signer, entity, headers=None):
        """`entity` (bytes: a MIME entity) signed by `signer` with `openssl cms -sign`
        (multipart/signed, the signer's certificate and the CA inside), `headers` put on top."""
        signed = self.openssl(
            "cms", "-sign", "-signer", f"{signer}.pem", "-inkey", f"{signer}.key",
            "-certfile", "ca.pem", "-crlfeol", input=entity,
        )  # fmt: skip
        return mail_headers(headers) + signed

    def encrypted(self, recipient, entity, headers=None):
        """`entity` encrypted to `recipient` with `openssl cms -encrypt` (AES-256-CBC)."""
        encrypted = self.openssl(
            "cms", "-encrypt", "-aes256", "-recip", f"{recipient}.pem", "-crlfeol", input=entity,
        )  # fmt: skip
        return mail_headers(headers) + encrypted


def mail_headers(headers):
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in (headers or {}).items())


def text_entity(text):
    return b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text.encode().replace(b"\n", b"\r\n")


class Daemon:
    """`mailseald serve` on a socket and data directory of its own."""

    def __init__(self, directory, trusted_ca, policy=""):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        self.socket = self.dir / "run" / "mailseal.sock"
        self.config = self.dir / "config.toml"
        self.config.write_text(
            f"trusted_ca_files = [{json.dumps(str(trusted_ca))}]\n"
            "pkcs11_modules = []\n"
            'log_level = "info"\n'
        )
        # The company policy file: this one, never the machine's /etc/mailseal/policy.toml.
        policy_file = self.dir / "policy.toml"
        policy_file.write_text(policy)
        self.log = open(self.dir / "mailseald.log", "wb")
        self.process = subprocess.Popen(
            [BIN / "mailseald", "--config", self.config, "serve",
             "--socket", self.socket, "--data-dir", self.dir / "data"],
            stdout=self.log, stderr=subprocess.STDOUT,
            env=dict(os.environ, NO_COLOR="1", MAILSEAL_POLICY=str(policy_file)),
        )  # fmt: skip
        try:
            self.cli("--wait", "10", "status")
        except BaseException:
            self.stop()
            raise

    def cli(self, *args, input=None):
        """Runs the `mailseal` CLI against this daemon."""
        return run([BIN / "mailseal", "--socket", self.socket, *args], input=input)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


PREFS = {
    # From shared/DEPENDENCIES.md "Mail clients": no first-run dialogs.
    "extensions.autoDisableScopes": 0,
    "mail.shell.checkDefaultClient": False,
    "mail.provider.suppress_dialog_on_startup": True,
    "mailnews.start_page.enabled": False,
    # Quiet and offline: no update checks, telemetry or remote content.
    "app.update.enabled": False,
    "app.update.auto": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "mail.spotlight.firstRunDone": True,
    "mail.rights.version": 1,
    "mailnews.auto_config_url": "",
    "extensions.getAddons.cache.enabled": False,
    "extensions.update.enabled": False,
    "browser.search.update": False,
    # Messages show in the 3-pane's message pane.
    "mail.openMessageBehavior": 2,
}


class Thunderbird:
    """A headless Thunderbird in a temporary HOME, with Marionette on a free port."""

    def __init__(self, directory, daemon, prefs=None, start_timeout=60):
        from marionette_driver.marionette import Marionette

        self.dir = Path(directory)
        self.home = self.dir / "home"
        self.profile = self.dir / "profile"
        self.profile.mkdir(parents=True)
        self.port = free_port()
        all_prefs = dict(PREFS, **(prefs or {}))
        all_prefs["marionette.port"] = self.port
        with open(self.profile / "user.js", "w") as f:
            for key, value in all_prefs.items():
                f.write(f"user_pref({json.dumps(key)}, {json.dumps(value)});\n")
        self.install_native_host(daemon)
        env = dict(os.environ)
        for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_RUNTIME_DIR",
                     "DISPLAY", "WAYLAND_DISPLAY", "MOZ_NO_REMOTE"):  # fmt: skip
            env.pop(name, None)
        env.update(
            HOME=str(self.home),
            # The shipped wrapper execs `mailseald native-host` from PATH; the host finds the
            # test daemon's socket through MAILSEAL_SOCKET, which Thunderbird passes on.
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
            MAILSEAL_SOCKET=str(daemon.socket),
            MAILSEAL_CONFIG=str(daemon.config),
            MOZ_HEADLESS="1",
            MOZ_CRASHREPORTER_DISABLE="1",
        )
        self.log_path = self.dir / "thunderbird.log"
        self.log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            ["thunderbird", "--headless", "--marionette", "-remote-allow-system-access",
             "-no-remote", "-profile", str(self.profile)],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        self.marionette = Marionette(host="127.0.0.1", port=self.port, startup_timeout=start_timeout)
        try:
            self.marionette.start_session()
            self.marionette.set_context("chrome")
            self.marionette.timeout.script = 60
        except BaseException:
            self.stop()
            raise

    def install_native_host(self, daemon):
        """The host manifest where Thunderbird looks for it on Linux (in the temporary HOME),
        written by `mailseald native-host --register` and naming the shipped wrapper."""
        self.home.mkdir(parents=True, exist_ok=True)
        run(
            [BIN / "mailseald", "native-host", "--register", "--wrapper", WRAPPER],
            env=dict(os.environ, HOME=str(self.home)),
        )
        manifest = json.loads((self.home / ".mozilla/native-messaging-hosts/mailseal.json").read_text())
        assert manifest["path"] == str(WRAPPER) and manifest["allowed_extensions"] == [ADDON_ID], manifest

    def install_addon(self, path=ADDON):
        from marionette_driver.addons import Addons

        return Addons(self.marionette).install(str(path), temp=True)

    def js(self, script, args=None):
        """Runs `script` in the chrome context (a function body; `arguments` are `args`)."""
        return self.marionette.execute_script(script, script_args=args or [], new_sandbox=False)

    def async_js(self, script, args=None):
        """Runs `script` as an async function body in the chrome context and returns its value.

        `script` may `await`; what it returns (or throws) is handed back.
        """
        wrapped = (
            "const [resolve, args] = [arguments[arguments.length - 1], Array.from(arguments).slice(0, -1)];\n"
            f"(async function () {{ {script} }}).apply(null, args).then(\n"
            "  (value) => resolve({ok: value === undefined ? null : value}),\n"
            "  (error) => resolve({error: String(error) + '\\n' + (error && error.stack || '')}));"
        )
        result = self.marionette.execute_async_script(
            wrapped, script_args=args or [], new_sandbox=False
        )
        if result is None:
            raise RuntimeError("script returned nothing")
        if "error" in result:
            raise RuntimeError(f"chrome script failed: {result['error']}")
        return result["ok"]

    # -- mail set-up and driving, all through chrome-context JavaScript ------------------------

    def create_accounts(self, email, name, smtp_port):
        """Local Folders, and an account for `email` whose outgoing server is 127.0.0.1:smtp_port."""
        return self.async_js(JS_MODULES + """
            const [email, name, port] = arguments;
            if (!MailServices.accounts.accounts.some(a => a.incomingServer?.type == "none" && a.incomingServer.hostName == "Local Folders")) {
              MailServices.accounts.createLocalMailAccount();
            }
            const smtp = MailServices.outgoingServer.createServer("smtp").QueryInterface(Ci.nsISmtpServer);
            smtp.hostname = "127.0.0.1";
            smtp.port = port;
            smtp.authMethod = Ci.nsMsgAuthMethod.none;
            smtp.socketType = Ci.nsMsgSocketType.plain;
            smtp.username = "";
            const identity = MailServices.accounts.createIdentity();
            identity.email = email;
            identity.fullName = name;
            identity.smtpServerKey = smtp.key;
            identity.doFcc = true;
            identity.fccFolderURI = MailServices.accounts.localFoldersServer.rootFolder.URI + "/Sent";
            const server = MailServices.accounts.createIncomingServer(email.split("@")[0], "mail.invalid", "none");
            const account = MailServices.accounts.createAccount();
            account.incomingServer = server;
            account.addIdentity(identity);
            return {identity: identity.key, smtp: smtp.key};
        """, [email, name, smtp_port])

    def add_message(self, path, folder="Inbox"):
        """Copies the message file at `path` into Local Folders/`folder`; returns its Message-ID."""
        return self.async_js(JS_MODULES + """
            const [path, name] = arguments;
            const root = MailServices.accounts.localFoldersServer.rootFolder;
            if (!root.containsChildNamed(name)) {
              root.createSubfolder(name, null);
            }
            const folder = root.getChildNamed(name);
            const keys = [];
            await new Promise((resolve, reject) => MailServices.copy.copyFileMessage(
              new FileUtils.File(path), folder, null, false, 0, "", {
                QueryInterface: ChromeUtils.generateQI(["nsIMsgCopyServiceListener"]),
                onStartCopy() {}, onProgress() {}, setMessageKey(key) { keys.push(key); },
                getMessageId() { return null; },
                onStopCopy(status) {
                  Components.isSuccessCode(status) ? resolve() : reject(new Error("copy failed: " + status));
                },
              }, null));
            return folder.GetMessageHeader(keys[0]).messageId;
        """, [str(path), folder])

    def display(self, message_id, folder="Inbox"):
        """Shows the message in the 3-pane's message pane (as a click on it would)."""
        return self.async_js(JS_MODULES + """
            const [messageId, name] = arguments;
            const folder = MailServices.accounts.localFoldersServer.rootFolder.getChildNamed(name);
            const header = folder.msgDatabase.getMsgHdrForMessageID(messageId);
            if (!header) {
              throw new Error("no message " + messageId + " in " + name);
            }
            MailUtils.displayMessageInFolderTab(header, true);
            const window = Services.wm.getMostRecentWindow("mail:3pane");
            const deadline = Date.now() + 20000;
            while (window.gTabmail.currentAboutMessage?.gMessage?.messageId != messageId) {
              if (Date.now() > deadline) {
                throw new Error("the message pane did not show " + messageId);
              }
              await new Promise(r => setTimeout(r, 100));
            }
            return window.gTabmail.currentAboutMessage.gMessage.mime2DecodedSubject;
        """, [message_id, folder])

    def action_button(self, where):
        """The add-on's button in the message pane ("message") or the newest compose window
        ("compose"): {label, tooltip, badge}, or None when it is not there."""
        return self.js(JS_MODULES + """
            const [where] = arguments;
            let doc;
            if (where == "message") {
              doc = Services.wm.getMostRecentWindow("mail:3pane")?.gTabmail.currentAboutMessage?.document;
            } else {
              doc = Services.wm.getMostRecentWindow("msgcompose")?.document;
            }
            const id = where == "message" ? "mailseal_example_com-messageDisplayAction-toolbarbutton"
                                          : "mailseal_example_com-composeAction-toolbarbutton";
            const button = doc?.getElementById(id);
            return button ? {label: button.getAttribute("label"), tooltip: button.getAttribute("tooltiptext"),
                             badge: button.getAttribute("badge")} : null;
        """, [where])

    def wait_for_button(self, where, label, badge=None, timeout=30):
        """Waits until the add-on's button in `where` shows `label` (and `badge`, when given:
        the add-on sets them one after the other); returns the button."""
        last = {}

        def shown():
            button = last["button"] = self.action_button(where)
            return button if button and button["label"] == label and badge in (None, button["badge"]) else None

        try:
            return wait_for(f"{label!r} on the {where} button", shown, timeout)
        except TimeoutError:
            raise AssertionError(
                f"the {where} button shows {last.get('button')!r}, expected the label {label!r}"
                + (f" and the badge {badge!r}" if badge is not None else "")
            ) from None

    def message_pane(self):
        """What the message pane shows: the text of the add-on's decrypted view and its
        attachment links ({text, attachments}), or None when the add-on put none there."""
        return self.js(JS_MODULES + """
            const about = Services.wm.getMostRecentWindow("mail:3pane")?.gTabmail.currentAboutMessage;
            const doc = about?.getMessagePaneBrowser()?.contentDocument;
            const box = doc?.getElementById("mailseal-decrypted");
            if (!box) {
              return null;
            }
            return {
              banner: box.querySelector(".mailseal-banner")?.textContent,
              text: box.querySelector(".mailseal-text")?.textContent ?? null,
              attachments: [...box.querySelectorAll(".mailseal-attachments a")].map(a => ({name: a.download, label: a.textContent})),
            };
        """)

    def compose(self, to, subject, body, sender):
        """Opens a compose window from `sender`'s identity to `to`, plain text."""
        return self.async_js(JS_MODULES + """
            const [to, subject, body, sender] = arguments;
            const identity = MailServices.accounts.allIdentities.find(i => i.email == sender);
            const params = Cc["@mozilla.org/messengercompose/composeparams;1"].createInstance(Ci.nsIMsgComposeParams);
            const fields = Cc["@mozilla.org/messengercompose/composefields;1"].createInstance(Ci.nsIMsgCompFields);
            Object.assign(fields, {to, subject, body});
            params.type = Ci.nsIMsgCompType.New;
            params.format = Ci.nsIMsgCompFormat.PlainText;
            params.composeFields = fields;
            params.identity = identity;
            const before = new Set(Services.wm.getEnumerator("msgcompose"));
            MailServices.compose.OpenComposeWindowWithParams(null, params);
            const deadline = Date.now() + 20000;
            let window;
            while (!(window = [...Services.wm.getEnumerator("msgcompose")].find(w => !before.has(w)))
                   || !window.gMsgCompose || !window.composeEditorReady) {
              if (Date.now() > deadline) {
                throw new Error("the compose window did not open");
              }
              await new Promise(r => setTimeout(r, 100));
            }
            return window.document.title;
        """, [to, subject, body, sender])

    def send(self, timeout=30):
        """Sends the newest compose window; waits until it closes (sent) or an error dialog
        appears. Returns {"sent": bool, "error": dialog text or None}; the dialog is closed."""
        self.start_send()
        return self.send_outcome(timeout)

    def start_send(self):
        """Clicks Send in the newest compose window and returns at once."""
        self.js("""
            const window = Services.wm.getMostRecentWindow("msgcompose");
            window.setTimeout(() => window.goDoCommand("cmd_sendNow"), 0);
        """)

    def send_outcome(self, timeout=30):
        """What became of the send started last: see send()."""
        return self.async_js("""
            const [timeout] = arguments;
            const window = Services.wm.getMostRecentWindow("msgcompose");
            const deadline = Date.now() + timeout * 1000;
            while (Date.now() < deadline) {
              if (!window || window.closed) {
                return {sent: true, error: null};
              }
              const dialog = [...Services.wm.getEnumerator(null)].find(
                w => w.location.href == "chrome://global/content/commonDialog.xhtml" && w.document.readyState == "complete");
              if (dialog) {
                await new Promise(r => setTimeout(r, 200));
                const text = dialog.document.getElementById("infoBody")?.textContent ?? dialog.document.title;
                dialog.close();
                return {sent: false, error: text};
              }
              await new Promise(r => setTimeout(r, 100));
            }
            throw new Error("the message was neither sent nor refused in time");
        """, [timeout])

    def open_compose_popup(self):
        """Clicks the add-on's compose action button in the newest compose window, as a person
        would, and waits until its popup has filled in."""
        self.async_js("""
            const window = Services.wm.getMostRecentWindow("msgcompose");
            window.focus();
            const deadline = Date.now() + 10000;
            while (Services.focus.activeWindow != window) {
              if (Date.now() > deadline) throw new Error("the compose window did not get the focus");
              await new Promise(r => setTimeout(r, 50));
            }
            window.document.getElementById("mailseal_example_com-composeAction-toolbarbutton").click();
        """)
        return wait_for("the compose popup", lambda: self.in_compose_popup(
            'return d.body?.dataset.ready == "true";'), 20)

    def in_compose_popup(self, body):
        """Runs `body` (JavaScript; `d` is the page's document) in the compose action's popup."""
        return self.in_addon_page("/compose/popup.html", body)

    def in_addon_page(self, path, body):
        """Runs `body` (JavaScript; `d` is the page's document) in the add-on's page `path`
        wherever it is shown (a popup panel, a window), in that page's own process, and returns
        what it returns (JSON), or None when no such page is open."""
        return self.async_js("""
            const [path, body] = arguments;
            const browsers = [...Services.wm.getEnumerator(null)].flatMap(w => [...w.document.querySelectorAll("browser")]);
            const browser = browsers.find(b => b.currentURI?.spec.split("?")[0].endsWith(path)
                                               && (b.closest("panel")?.state ?? "open") == "open");
            if (!browser) {
              return null;
            }
            const tag = "mailseal-test:" + Math.random();
            const manager = browser.messageManager;
            const answer = new Promise(resolve => {
              const listener = message => { manager.removeMessageListener(tag, listener); resolve(message.data); };
              manager.addMessageListener(tag, listener);
            });
            const script = `(() => { const d = content.document;
              let value; try { value = {ok: (() => { ${body} })()}; } catch (e) { value = {error: String(e)}; }
              sendAsyncMessage(${JSON.stringify(tag)}, value); })();`;
            manager.loadFrameScript("data:application/javascript," + encodeURIComponent(script), false);
            const result = await Promise.race([answer, new Promise(r => setTimeout(() => r({error: "no answer"}), 5000))]);
            if (result.error) throw new Error("in " + path + ": " + result.error);
            return result.ok;
        """, [path, body])

    def compose_popup_state(self):
        return self.in_compose_popup("""
            return {sign: d.getElementById("sign").checked, encrypt: d.getElementById("encrypt").checked,
                    recipients: [...d.querySelectorAll("#recipients li")].map(li => li.textContent),
                    sign_locked: d.getElementById("sign").disabled, encrypt_locked: d.getElementById("encrypt").disabled,
                    policy: d.getElementById("policy").textContent, problem: d.getElementById("problem").textContent};
        """)

    def close_compose_popup(self):
        return self.js("""
            const window = Services.wm.getMostRecentWindow("msgcompose");
            for (const panel of window.document.querySelectorAll("panel")) {
              if (panel.state == "open") panel.hidePopup();
            }
        """)

    def close_compose(self):
        """Closes the newest compose window without asking to save."""
        return self.js("""
            const window = Services.wm.getMostRecentWindow("msgcompose");
            if (window) {
              window.SetContentAndBodyAsUnmodified();
              window.close();
            }
            return !!window;
        """)

    def stop(self):
        try:
            self.marionette.delete_session()
        except Exception:  # noqa: BLE001 - Thunderbird may already be gone
            pass
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(15)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.process.wait()
        try:  # whatever Thunderbird started and left (content processes, the native host)
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.log.close()


JS_MODULES = """
    const { MailServices } = ChromeUtils.importESModule("resource:///modules/MailServices.sys.mjs");
    const { MailUtils } = ChromeUtils.importESModule("resource:///modules/MailUtils.sys.mjs");
    const { FileUtils } = ChromeUtils.importESModule("resource://gre/modules/FileUtils.sys.mjs");
"""


class TempDir:
    def __init__(self, keep=False):
        self.path = Path(tempfile.mkdtemp(prefix="mailseal-tb-"))
        self.keep = keep

    def remove(self):
        if not self.keep:
            shutil.rmtree(self.path, ignore_errors=True)


class SmtpSink:
    """An `aiosmtpd` server on 127.0.0.1 that keeps every message it is given."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        sink = self
        self.messages = []

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append(
                    {"from": envelope.mail_from, "to": list(envelope.rcpt_tos), "data": envelope.original_content or envelope.content}
                )
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        self.controller.stop()
