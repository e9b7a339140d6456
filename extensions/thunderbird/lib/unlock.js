// When the daemon needs a secret before it can go on: a locked key (`key_locked` → ask for the
// passphrase, `key.unlock`) or a smart card that needs its PIN (`pin_required` → ask for the
// PIN, `token.login`). The secret goes straight to the daemon and is not kept.

const WRONG = {
  wrong_password: "That passphrase was wrong; try again.",
  wrong_pin: "That PIN was wrong; try again.",
};

/**
 * Runs `operation()`; when it fails for want of a passphrase or PIN, asks for it with
 * `ask(request)` (which resolves with {secret} or {cancelled: true}), unlocks through `daemon`
 * and runs the operation again. At most `maxPrompts` prompts; cancelling, or anything else going
 * wrong, rejects with the daemon's error. `describeKey(key_id)` may name the key's addresses.
 */
export async function withUnlock(operation, { daemon, ask, describeKey = async () => [] }, maxPrompts = 3) {
  let prompts = 0;
  for (;;) {
    let needed;
    try {
      return await operation();
    } catch (error) {
      if (error?.kind !== "key_locked" && error?.kind !== "pin_required") {
        throw error;
      }
      needed = error;
    }
    let retry = "";
    for (;;) {
      if (prompts >= maxPrompts) {
        throw needed;
      }
      prompts++;
      const request =
        needed.kind === "pin_required"
          ? { kind: "pin", token: needed.data.token, retry }
          : { kind: "passphrase", key_id: needed.data.key_id, emails: await describeKey(needed.data.key_id), retry };
      const answer = await ask(request);
      if (!answer || answer.cancelled) {
        throw needed;
      }
      try {
        if (request.kind === "pin") {
          await daemon.call("token.login", { token: request.token, pin: answer.secret });
        } else {
          await daemon.call("key.unlock", { key_id: request.key_id, passphrase: answer.secret });
        }
        break; // unlocked: run the operation again
      } catch (error) {
        if (!WRONG[error?.kind]) {
          throw error;
        }
        retry = WRONG[error.kind] + (error.data?.final_try ? " One more wrong PIN locks the card." : "");
      }
    }
  }
}
