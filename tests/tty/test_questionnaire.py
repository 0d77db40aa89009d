#!/usr/bin/env python3
"""End-to-end test of `satchel record`, driven through a pseudo-terminal the way a person would:
wait for each prompt on the screen, type, check what comes back. Proves the questionnaire's
behaviour (validation naming the rule, :back, relevance, repeats, Ctrl-C saving a draft, resume)
and its hygiene (alternate screen entered and left, terminal mode restored, no answer printed
outside the alternate screen).

Usage: test_questionnaire.py BIN_DIR      (BIN_DIR holds the satchel executable)
Prints one line per check and "N passed, M failed"; exits non-zero on any failure.
"""
import fcntl
import json
import os
import re
import select
import shutil
import signal
import struct
import sys
import tempfile
import termios
import time

DEADLINE = time.monotonic() + 28  # the whole test stays under 30 s
PASSPHRASE = "correct horse battery staple tty"
ENTER_ALT, LEAVE_ALT = b"\x1b[?1049h", b"\x1b[?1049l"

FORM = {
    "id": "tty-test",
    "version": 1,
    "title": {"en": "TTY test form", "ar": "نموذج اختبار"},
    "languages": [{"code": "en", "name": "English", "rtl": False},
                  {"code": "ar", "name": "العربية", "rtl": True}],
    "default_language": "en",
    "questions": [
        {"id": "consent", "type": "consent", "required": True,
         "label": {"en": "Do you agree to give testimony?"}},
        {"id": "alias", "type": "text", "label": {"en": "Witness alias"},
         "hint": {"en": "Not your real name"}, "constraint": {"max_length": 5}},
        {"id": "kind", "type": "single_choice", "label": {"en": "What happened"},
         "choices": [{"value": "arrest", "label": {"en": "Arrest"}},
                     {"value": "threat", "label": {"en": "Threat"}}]},
        {"id": "place", "type": "text", "label": {"en": "Place of arrest"},
         "relevant": "${kind} = 'arrest'"},
        {"id": "people", "type": "repeat", "label": {"en": "People involved"},
         "min_count": 1, "max_count": 3,
         "questions": [
             {"id": "role", "type": "text", "label": {"en": "Role of person"}},
             {"id": "age", "type": "integer", "label": {"en": "Age of person"},
              "constraint": {"min": 0, "max": 120}}]},
        {"id": "summary", "type": "long_text",
         "label": {"en": "What happened, in your words", "ar": "ماذا حدث بكلماتك"}},
    ],
}

passed = failed = 0
WORK = None  # removed at the end


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"FAIL - {name}" + (f": {detail}" if detail else ""))
    sys.stdout.flush()
    return ok


def remaining():
    return max(0.1, DEADLINE - time.monotonic())


def spawn(argv, passphrase=None, tty=None, out=None, err=None):
    """Forks argv in a new session. With `tty` (a pty slave) it becomes the controlling terminal
    and stdio; otherwise the child has no terminal and writes to the fds out/err. The passphrase
    goes through a pipe on fd 3 (--passphrase-fd 3)."""
    pipe_r = None
    if passphrase is not None:
        pipe_r, pipe_w = os.pipe()
        os.write(pipe_w, (passphrase + "\n").encode())
        os.close(pipe_w)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            if tty is not None:
                fcntl.ioctl(tty, termios.TIOCSCTTY, 0)
                for fd in (0, 1, 2):
                    os.dup2(tty, fd)
            else:
                os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
                os.dup2(out, 1)
                os.dup2(err, 2)
            if pipe_r is not None:
                if pipe_r == 3:
                    os.set_inheritable(3, True)
                else:
                    os.dup2(pipe_r, 3)
            os.closerange(4, 1024)
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    if pipe_r is not None:
        os.close(pipe_r)
    return pid


def wait(pid, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


def run(argv, passphrase=None, timeout=10):
    """Runs without a terminal; returns (exit code, stdout, stderr)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        pid = spawn(argv, passphrase, out=out.fileno(), err=err.fileno())
        code = wait(pid, min(timeout, remaining()))
        out.seek(0)
        err.seek(0)
        return code, out.read().decode(errors="replace"), err.read().decode(errors="replace")


class Terminal:
    """A pty with a child on it; everything the child writes is kept in `output`."""

    def __init__(self, argv, passphrase):
        self.master, self.slave = os.openpty()
        fcntl.ioctl(self.slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        self.pid = spawn(argv, passphrase, tty=self.slave)
        self.output = b""
        self.pos = 0  # expect() searches from here
        self.code = None

    def pump(self, timeout):
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                self.output += os.read(self.master, 65536)
            except OSError:
                pass

    def expect(self, text, timeout=5.0):
        """Waits until `text` appears after the previous match; returns the output in between."""
        pattern = text.encode() if isinstance(text, str) else text
        end = time.monotonic() + min(timeout, remaining())
        while True:
            i = self.output.find(pattern, self.pos)
            if i >= 0:
                between = self.output[self.pos:i]
                self.pos = i + len(pattern)
                return between
            if time.monotonic() >= end:
                return None
            self.pump(0.05)

    def send(self, text):
        os.write(self.master, text.encode() if isinstance(text, str) else text)

    def answer(self, prompt, text):
        """Waits for `prompt`, then types `text` and Enter."""
        seen = self.expect(prompt)
        if seen is None:
            return False
        self.send(text + "\r")
        return True

    def finish(self, timeout=8.0):
        end = time.monotonic() + min(timeout, remaining())
        while self.code is None and time.monotonic() < end:
            self.pump(0.05)
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.code = os.waitstatus_to_exitcode(status)
        if self.code is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        self.pump(0.1)
        return self.code

    def mode(self):
        return termios.tcgetattr(self.slave)

    def close(self):
        os.close(self.master)
        os.close(self.slave)

    def tail(self):
        return repr(self.output[-600:])


def after_last_leave(output):
    i = output.rfind(LEAVE_ALT)
    return output[i + len(LEAVE_ALT):] if i >= 0 else output


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: test_questionnaire.py BIN_DIR")
    satchel = os.path.join(os.path.abspath(sys.argv[1]), "satchel")
    global WORK
    work = WORK = tempfile.mkdtemp(prefix="satchel-tty-")
    home = os.path.join(work, "home")
    base = [satchel, "--home", home]
    secret_words = ["Amal", "Police officer", "Neighbour", "First line", "Second line"]

    code, out, err = run([satchel, "keygen", "org", "-o", os.path.join(work, "org.key")])
    pub = re.search(r"public key: (\S+)", out)
    fp = re.search(r"fingerprint: (.+)", out)
    if not check("an organisation key is generated", code == 0 and pub and fp, err):
        return
    code, out, err = run(base + ["init", "--kdf-passes", "2", "--kdf-memory", "64", "--allow-weak",
                                 "--passphrase-fd", "3"], PASSPHRASE)
    if not check("a profile is created", code == 0, err):
        return
    code, out, err = run(base + ["--passphrase-fd", "3", "trust", "org", pub.group(1), "--confirm",
                                 fp.group(1).strip()], PASSPHRASE)
    check("the organisation key is trusted", code == 0, err)
    form_path = os.path.join(work, "form.json")
    with open(form_path, "w", encoding="utf-8") as f:
        json.dump(FORM, f, ensure_ascii=False, indent=1)
    signed = os.path.join(work, "form.signed")
    code, out, err = run([satchel, "org", "form", "--org-key", os.path.join(work, "org.key"),
                          form_path, "-o", signed])
    check("the test form is signed", code == 0, err)
    code, out, err = run(base + ["--passphrase-fd", "3", "form", "add", signed], PASSPHRASE)
    if not check("the signed form is added", code == 0, out + err):
        return

    code, out, err = run(base + ["--passphrase-fd", "3", "record", "tty-test"], PASSPHRASE)
    check("record without a terminal fails and says so", code not in (0, None) and "no terminal" in err,
          f"code={code} err={err!r}")

    # First session: answer part of the form, then Ctrl-C.
    t = Terminal(base + ["--passphrase-fd", "3", "record", "tty-test"], PASSPHRASE)
    first = t.expect("Do you agree to give testimony? *")
    check("record switches to the alternate screen before the first question",
          first is not None and ENTER_ALT in first, t.tail())
    check("the first question shows its progress", first is not None and b"[1/" in first)
    lflag = t.mode()[3]
    check("while asking, the terminal is out of canonical mode and kernel echo",
          not lflag & termios.ICANON and not lflag & termios.ECHO)
    t.answer("> ", ":skip")
    check(":skip is refused for a required question",
          t.expect("required and cannot be skipped") is not None, t.tail())
    t.answer("> ", "y")
    t.expect("Witness alias")
    check("the hint is shown", t.expect("Not your real name") is not None, t.tail())
    t.answer("> ", "Abcdefgh")
    check("an answer over max_length is refused, naming the rule",
          t.expect("max_length: must be at most 5 characters") is not None, t.tail())
    t.answer("> ", "Amal")
    menu = t.expect("What happened")
    check("a choice question shows a numbered menu", t.expect("2) Threat") is not None, t.tail())
    t.answer("> ", "1")
    check("a question whose condition holds is asked", t.expect("Place of arrest") is not None, t.tail())
    t.answer("> ", "Central market")
    t.expect("add an entry to People involved? (y/n)")
    t.send(":back\r")
    check(":back returns to the previous question with its answer",
          t.expect("Place of arrest") is not None and t.expect("Current answer: Central market") is not None,
          t.tail())
    t.answer("> ", ":back")
    t.expect("What happened")
    t.expect("Current answer: Arrest")
    t.answer("> ", "2")
    skipped = t.expect("add an entry to People involved? (y/n)")
    check("a question whose condition no longer holds is skipped",
          skipped is not None and b"Place of arrest" not in skipped, t.tail())
    t.send("y\r")
    t.answer("Role of person", "Police officer")
    t.expect("Age of person")
    t.answer("> ", "200")
    check("an integer over the maximum is refused, naming the rule",
          t.expect("max: must be at most 120") is not None, t.tail())
    t.answer("> ", "35")
    check("after an entry the repeat offers another",
          t.expect("add another entry to People involved? (y/n)") is not None, t.tail())
    t.send("y\r")
    entry2 = t.expect("Role of person")
    check("the second entry is labelled as such", entry2 is not None and b"People involved, entry 2" in entry2,
          t.tail())
    t.answer("> ", "Neighbour")
    t.expect("Age of person")
    t.answer("> ", "60")
    t.answer("add another entry to People involved? (y/n)", "n")
    t.expect("What happened, in your words")
    t.answer("> ", ":lang ar")
    check(":lang switches the labels to another language", t.expect("ماذا حدث بكلماتك") is not None, t.tail())
    t.answer("> ", "First line")
    t.send("Second line\r")
    # Ctrl-C raises SIGINT at once, and the line being typed is dropped by design: wait until the
    # questionnaire has echoed the end of this line, i.e. has taken it, before pressing it.
    t.expect("Second line")
    t.expect("\n")
    t.send(b"\x03")  # Ctrl-C
    code = t.finish()
    rest = after_last_leave(t.output)
    draft = re.search(rb"([0-9a-f]{32}) \(draft saved", rest)
    check("Ctrl-C saves a draft and exits cleanly", code == 0 and draft is not None,
          f"code={code} {t.tail()}")
    check("the alternate screen is left after Ctrl-C", t.output.rfind(LEAVE_ALT) > t.output.rfind(ENTER_ALT))
    lflag = t.mode()[3]
    check("the terminal mode is restored (canonical input, echo)",
          bool(lflag & termios.ICANON) and bool(lflag & termios.ECHO))
    check("no answer appears outside the alternate screen",
          not any(w.encode() in rest for w in secret_words), repr(rest))
    t.close()
    if not draft:
        return
    record_id = draft.group(1).decode()

    # Second session: resume, keep every answer, finish.
    t = Terminal(base + ["--passphrase-fd", "3", "record", "--resume", record_id], PASSPHRASE)
    check("resume shows the saved answer",
          t.expect("Do you agree to give testimony?") is not None
          and t.expect("Current answer: yes, consent given") is not None, t.tail())
    t.answer("> ", "")
    t.expect("Current answer: Amal")
    t.answer("> ", "")
    t.expect("Current answer: Threat")
    t.answer("> ", "")
    t.answer("Enter: go through the 2 entries", "n")
    kept = t.expect("Current answer: First line")
    check("the long text typed before Ctrl-C was kept", kept is not None, t.tail())
    t.answer("> ", "")
    check("the end screen says the answers are valid",
          t.expect("every answer is valid") is not None, t.tail())
    t.answer("Press Enter to save the record", "")
    code = t.finish()
    rest = after_last_leave(t.output)
    check("resume completes the record", code == 0 and record_id.encode() in rest and b"draft saved" not in rest,
          f"code={code} {repr(rest)}")
    check("the terminal mode is restored after completing", bool(t.mode()[3] & termios.ICANON))
    t.close()

    code, out, err = run(base + ["--passphrase-fd", "3", "show", record_id], PASSPHRASE)
    answers = None
    try:
        answers = json.loads(out[:out.rfind("}") + 1])
    except ValueError:
        pass
    check("show without a terminal prints the answers", code == 0 and answers is not None, out + err)
    if answers:
        check("the answers hold both repeat entries",
              answers.get("people") == [{"role": "Police officer", "age": 35},
                                        {"role": "Neighbour", "age": 60}], json.dumps(answers))
        check("the answers hold the corrected and chosen values",
              answers.get("alias") == "Amal" and answers.get("kind") == "threat" and answers.get("consent") is True)
        check("an answer that became irrelevant was pruned", "place" not in answers, json.dumps(answers))
        check("the long text holds its lines", answers.get("summary") == "First line\nSecond line",
              repr(answers.get("summary")))

    # show on a terminal: alternate screen until Enter.
    t = Terminal(base + ["--passphrase-fd", "3", "show", record_id], PASSPHRASE)
    shown = t.expect("press Enter to return")
    check("show on a terminal uses the alternate screen",
          shown is not None and ENTER_ALT in shown and b"Police officer" in shown, t.tail())
    t.send("\r")
    t.finish()
    check("show leaves the alternate screen without leaving the answers behind",
          LEAVE_ALT in t.output and b"Police officer" not in after_last_leave(t.output), t.tail())
    t.close()

    # SIGTERM and SIGHUP end the session like Ctrl-C: draft saved, terminal restored.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        t = Terminal(base + ["--passphrase-fd", "3", "record", "tty-test"], PASSPHRASE)
        t.answer("Do you agree to give testimony?", "y")
        t.expect("Witness alias")
        t.expect("> ")
        os.kill(t.pid, sig)
        code = t.finish()
        check(f"{sig.name} saves a draft and restores the terminal",
              code == 0 and b"draft saved" in after_last_leave(t.output)
              and bool(t.mode()[3] & termios.ICANON), f"code={code} {t.tail()}")
        t.close()

    # :quit on a new record: confirmed, nothing saved.
    t = Terminal(base + ["--passphrase-fd", "3", "record", "tty-test"], PASSPHRASE)
    t.answer("Do you agree to give testimony?", "y")
    t.answer("Witness alias", ":quit")
    t.answer("Leave without saving? (y/n)", "y")
    code = t.finish()
    check(":quit with confirmation saves nothing", code == 0 and b"nothing saved" in after_last_leave(t.output),
          t.tail())
    t.close()
    code, out, err = run(base + ["--passphrase-fd", "3", "list"], PASSPHRASE)
    check("the quit session left no draft (3 records: completed, SIGTERM, SIGHUP)",
          code == 0 and out.count("tty-test") == 3, out + err)

    # show pages a text taller than the terminal, even one long line (a long answer in JSON).
    long_answers = {"consent": True, "kind": "threat", "people": [{"role": "Clerk"}],
                    "summary": "\n".join(f"paragraph {i}" for i in range(1, 501))}
    answers_path = os.path.join(work, "answers.json")
    with open(answers_path, "w", encoding="utf-8") as f:
        json.dump(long_answers, f)
    code, out, err = run(base + ["--passphrase-fd", "3", "record", "tty-test", "--answers", answers_path],
                         PASSPHRASE)
    t = Terminal(base + ["--passphrase-fd", "3", "show", out.strip()], PASSPHRASE)
    first_page = t.expect("-- Enter: next page   q: return --")
    t.send("\r")
    later = t.expect("paragraph 500")
    t.send("q\r")
    code = t.finish()
    check("show pages a long text one screen at a time",
          code == 0 and first_page is not None and later is not None
          and b"paragraph 1\\n" in first_page and b"paragraph 500" not in first_page, t.tail())
    t.close()


if __name__ == "__main__":
    try:
        main()
    finally:
        if WORK:
            shutil.rmtree(WORK, ignore_errors=True)
        print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or passed == 0 else 0)
