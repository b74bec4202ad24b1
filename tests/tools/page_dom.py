#!/usr/bin/env python3
"""page_dom.py URL STOPFILE SECONDS PROFILE: open URL in headless Chromium
(profile directory PROFILE) and keep it open, in real time, until the file
STOPFILE exists; then print the page's DOM on stdout.  Whatever the page
wrote to its console, and every exception it did not catch, goes to stderr
on a line starting with "CONSOLE" or "Uncaught".  Exits 1, saying why, when
STOPFILE does not appear within SECONDS or Chromium fails.

Chromium's own --dump-dom cannot do this: it dumps once the page has loaded,
or with --virtual-time-budget after that much virtual time, in which the
page's timers fire as fast as its requests allow; a test that changes migrd
while the page polls needs the page open for as long as it takes.  So this
drives Chromium over the DevTools protocol on --remote-debugging-pipe
(Chromium reads commands on its fd 3 and writes on its fd 4, each message
JSON ended by a NUL byte), with nothing but the standard library."""
import json
import os
import select
import subprocess
import sys
import time


class Chromium:
    def __init__(self, profile):
        cmd_r, self.cmd_w = os.pipe()
        self.out_r, out_w = os.pipe()
        # The shell puts the pipes on fds 3 and 4, where Chromium looks.
        self.proc = subprocess.Popen(
            ['sh', '-c', 'exec chromium --headless --no-sandbox --disable-gpu --remote-debugging-pipe '
             '--user-data-dir="$0" about:blank 3<&%d 4>&%d' % (cmd_r, out_w), profile],
            pass_fds=(cmd_r, out_w), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(profile, 'chromium.log'), 'ab'))
        os.close(cmd_r)
        os.close(out_w)
        self.buf = b''
        self.next_id = 0
        self.events = []
        self.session = None

    def read(self, timeout):
        """The messages Chromium sent within timeout seconds."""
        ready, _, _ = select.select([self.out_r], [], [], timeout)
        if not ready:
            return []
        chunk = os.read(self.out_r, 1 << 20)
        if not chunk:
            raise RuntimeError('Chromium closed its DevTools pipe (exit code %s; see chromium.log in the '
                               'profile directory)' % self.proc.poll())
        self.buf += chunk
        *whole, self.buf = self.buf.split(b'\0')
        return [json.loads(m) for m in whole]

    def call(self, method, params=None, session=True):
        """Send a command; its result, the events meanwhile kept in self.events."""
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session and self.session:
            msg['sessionId'] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b'\0')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for m in self.read(1):
                if m.get('id') == self.next_id:
                    if 'error' in m:
                        raise RuntimeError('%s: %s' % (method, m['error'].get('message')))
                    return m.get('result', {})
                self.events.append(m)
        raise RuntimeError('Chromium did not answer %s within 30 s' % method)

    def close(self):
        try:
            self.call('Browser.close', session=False)
        except RuntimeError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def report(events):
    """Console messages and uncaught exceptions to stderr; how many."""
    n = 0
    for e in events:
        p = e.get('params', {})
        if e.get('method') == 'Runtime.consoleAPICalled':
            text = ' '.join(str(a.get('value', a.get('description', ''))) for a in p.get('args', []))
            print('CONSOLE %s: %s' % (p.get('type'), text), file=sys.stderr)
            n += 1
        elif e.get('method') == 'Runtime.exceptionThrown':
            d = p.get('exceptionDetails', {})
            print('Uncaught %s' % d.get('exception', {}).get('description', d.get('text')), file=sys.stderr)
            n += 1
    return n


def main():
    if len(sys.argv) != 5:
        print('usage: page_dom.py URL STOPFILE SECONDS PROFILE', file=sys.stderr)
        return 2
    url, stop, seconds, profile = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
    os.makedirs(profile, exist_ok=True)
    c = Chromium(profile)
    try:
        target = c.call('Target.createTarget', {'url': 'about:blank'})['targetId']
        c.session = c.call('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
        c.call('Runtime.enable')  # before the page loads, so that no message is missed
        c.call('Page.enable')
        nav = c.call('Page.navigate', {'url': url})
        if nav.get('errorText'):
            raise RuntimeError('cannot open %s: %s' % (url, nav['errorText']))
        deadline = time.monotonic() + seconds
        while not any(e.get('method') == 'Page.loadEventFired' for e in c.events):
            if time.monotonic() > deadline:
                raise RuntimeError('%s did not load within %g s' % (url, seconds))
            c.events += c.read(0.2)
        while not os.path.exists(stop):
            if time.monotonic() > deadline:
                raise RuntimeError('%s did not appear within %g s' % (stop, seconds))
            c.events += c.read(0.2)
        got = c.call('Runtime.evaluate', {'expression': 'document.documentElement.outerHTML',
                                          'returnByValue': True})
        dom = got.get('result', {}).get('value')
        if not isinstance(dom, str):
            raise RuntimeError('reading the DOM gave %s' % json.dumps(got)[:500])
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print('page_dom.py: %s' % e, file=sys.stderr)
        c.close()
        return 1
    c.close()
    report(c.events)
    sys.stdout.write(dom)
    return 0


if __name__ == '__main__':
    sys.exit(main())
