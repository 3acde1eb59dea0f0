"""cdp.py: a minimal driver of headless Chromium over --remote-debugging-pipe (the DevTools
protocol as NUL-separated JSON on file descriptors 3 and 4), for hone's viewer tests. Python's
standard library only; no puppeteer, no network.

    with Browser() as b:            # raises Unavailable when no chromium can be run
        page = b.new_page(1400, 1000)
        page.goto('file:///tmp/x.html', ready_js='document.body.dataset.ready')
        page.eval('document.title')
        page.click_at(x, y)
        page.screenshot('/tmp/x.png')
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
         '--disable-background-networking', '--disable-component-update', '--disable-sync',
         '--disable-dev-shm-usage', '--hide-scrollbars', '--mute-audio',
         '--remote-debugging-pipe']


class Unavailable(Exception):
    """No Chromium binary could be found or started."""


class Error(Exception):
    """A protocol command failed, or a page did not become ready in time."""


def find_chromium():
    for name in (os.environ.get('HONE_CHROMIUM'), 'chromium', 'chromium-browser'):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    def __init__(self, timeout=60):
        self.exe = find_chromium()
        if not self.exe:
            raise Unavailable('no chromium on PATH (Debian package "chromium"; scripts/install-deps installs it)')
        self.timeout = timeout
        self.next_id = 0
        self.buf = b''
        self.profile = tempfile.mkdtemp(prefix='hone-chromium-')
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds():
            # Via fresh copies: a pipe end may already be fd 3 or 4, and dup2 onto itself would
            # keep its close-on-exec flag.
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        try:
            self.proc = subprocess.Popen(
                [self.exe] + FLAGS + ['--user-data-dir=' + self.profile, 'about:blank'],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                close_fds=False, preexec_fn=child_fds)
        except OSError as e:
            raise Unavailable('cannot start %s: %s' % (self.exe, e))
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        try:
            self.version = self.send('Browser.getVersion')['product']
        except Error as e:
            self.close()
            raise Unavailable('%s does not answer on its debugging pipe: %s' % (self.exe, e))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if getattr(self, 'proc', None) and self.proc.poll() is None:
            try:
                self.send('Browser.close', timeout=5)
            except Exception:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for fd in (getattr(self, 'to_chrome', None), getattr(self, 'from_chrome', None)):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self.to_chrome = self.from_chrome = None
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self, deadline):
        import select
        while b'\0' not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Error('timed out waiting for chromium')
            r, _, _ = select.select([self.from_chrome], [], [], left)
            if not r:
                continue
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise Error('chromium closed its debugging pipe (crashed?)')
            self.buf += chunk
        msg, self.buf = self.buf.split(b'\0', 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None, timeout=None):
        self.next_id += 1
        mid = self.next_id
        msg = {'id': mid, 'method': method, 'params': params or {}}
        if session:
            msg['sessionId'] = session
        os.write(self.to_chrome, json.dumps(msg).encode() + b'\0')
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read_message(deadline)
            if m.get('id') == mid:
                if 'error' in m:
                    raise Error('%s: %s' % (method, m['error'].get('message')))
                return m.get('result', {})

    def new_page(self, width=1400, height=1000):
        tid = self.send('Target.createTarget', {'url': 'about:blank'})['targetId']
        sid = self.send('Target.attachToTarget', {'targetId': tid, 'flatten': True})['sessionId']
        page = Page(self, sid)
        page.send('Page.enable')
        page.send('Runtime.enable')
        page.send('Emulation.setDeviceMetricsOverride',
                  {'width': width, 'height': height, 'deviceScaleFactor': 1, 'mobile': False})
        return page


class Page:
    def __init__(self, browser, session):
        self.b = browser
        self.session = session

    def send(self, method, params=None, timeout=None):
        return self.b.send(method, params, self.session, timeout)

    def eval(self, expr):
        r = self.send('Runtime.evaluate', {'expression': expr, 'returnByValue': True,
                                           'awaitPromise': True})
        if 'exceptionDetails' in r:
            d = r['exceptionDetails']
            raise Error('%s: %s' % (expr[:80], d.get('exception', {}).get('description', d.get('text'))))
        return r['result'].get('value')

    def goto(self, url, ready_js, timeout=30):
        """Navigates and waits until ready_js is truthy; returns the seconds it took."""
        t0 = time.monotonic()
        r = self.send('Page.navigate', {'url': url})
        if r.get('errorText'):
            raise Error('cannot open %s: %s' % (url, r['errorText']))
        while time.monotonic() - t0 < timeout:
            try:
                if self.eval(ready_js):
                    return time.monotonic() - t0
            except Error:
                pass
            time.sleep(0.02)
        errors = self.eval('window.__honeErrors || []')
        raise Error('%s did not become ready in %d s (%s)' % (url, timeout, errors))

    def click_at(self, x, y):
        for kind in ('mouseMoved', 'mousePressed', 'mouseReleased'):
            self.send('Input.dispatchMouseEvent', {'type': kind, 'x': x, 'y': y,
                                                   'button': 'left', 'clickCount': 1})

    def move_to(self, x, y):
        self.send('Input.dispatchMouseEvent', {'type': 'mouseMoved', 'x': x, 'y': y})

    def screenshot(self, path):
        data = self.send('Page.captureScreenshot', {'format': 'png'})['data']
        with open(path, 'wb') as f:
            f.write(base64.b64decode(data))
