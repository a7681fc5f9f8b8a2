"""What the emulator's context managers share: a child process that writes its first line on
stdout (its port) and its log to a file, stopped politely and then firmly."""

import subprocess


class Child:
    """Subclasses set `self.process` (a Popen with stdout=PIPE) and `self._log` (a file) in
    start(), and return self."""

    process = None
    _log = None

    def stop_child(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self):
        self.stop_child()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
