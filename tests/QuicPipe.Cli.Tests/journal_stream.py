# Runs a command with stderr connected to a unix stream socket and JOURNAL_STREAM naming that socket, as systemd does
# for a service whose output goes to the journal; sends the command SIGTERM once it printed a line containing
# argv[1], then prints everything it wrote to stderr. Usage: journal_stream.py WAIT_FOR COMMAND ARGS...
import os
import signal
import socket
import subprocess
import sys
import time

wait_for, command = sys.argv[1].encode(), sys.argv[2:]
journal, stderr = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
st = os.fstat(stderr.fileno())
env = dict(os.environ, JOURNAL_STREAM=f"{st.st_dev}:{st.st_ino}")
child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr.fileno())
stderr.close()
journal.settimeout(30)
text = b""
deadline = time.monotonic() + 30
while wait_for not in text and time.monotonic() < deadline:
    chunk = journal.recv(65536)
    if not chunk:
        break
    text += chunk
child.send_signal(signal.SIGTERM)
child.wait(10)
while True:
    chunk = journal.recv(65536)
    if not chunk:
        break
    text += chunk
sys.stdout.write(text.decode())
sys.exit(child.returncode)
