/* Read path, privileged part (an Experiment API, chrome context).
 *
 * Thunderbird tries to decrypt every application/pkcs7-mime message with its own S/MIME keys
 * when it is displayed. Mailseal's keys are in the daemon, so that fails, and Thunderbird then
 * hides the message header pane (where the add-on's verdict is) and loads an error page instead
 * of the message, so the MailExtension never hears that the message was displayed. With the
 * preference mailnews.p7m_external, Thunderbird shows such a message as a message with a
 * smime.p7m attachment instead; the add-on then opens it through the daemon like any other.
 * Only the preference's default is changed, and only while the add-on runs: a value the user or
 * an administrator set still wins, and nothing stays behind when the add-on is removed.
 */

/* global ExtensionCommon, Services */
"use strict";

const PREF = "mailnews.p7m_external";

this.mailsealReading = class extends ExtensionCommon.ExtensionAPI {
  onShutdown(isAppShutdown) {
    if (!isAppShutdown && this.previousDefault !== undefined) {
      Services.prefs.getDefaultBranch("").setBoolPref(PREF, this.previousDefault);
    }
  }

  getAPI(_context) {
    const api = this;
    return {
      mailsealReading: {
        async takeOverDecryption() {
          const defaults = Services.prefs.getDefaultBranch("");
          if (api.previousDefault === undefined) {
            api.previousDefault = defaults.getBoolPref(PREF, false);
          }
          defaults.setBoolPref(PREF, true);
          return Services.prefs.getBoolPref(PREF, false);
        },
      },
    };
  }
};
