"""Loaded at start-up by every Python the tests run (TestPeers puts this folder on PYTHONPATH).

Works around a race in pynetdicom (seen in 3.0.4, its issue #875): an association's reactor
thread, when the application thread pauses it to send a request and wait for the answer,
can pass its checkpoint just before the pause and then take the answer off the DIMSE
message queue itself. It finds no request in it, logs "Received unexpected C-STORE service
message" and drops it; the sender then waits for its DIMSE timeout (30 s) and aborts. The
window is wide only when the answer comes back within microseconds, as ours does, on a
loaded machine (a full test run on two cores). Here a response the reactor takes while a
send_* call has it paused (the checkpoint cleared: that call waits for exactly this answer)
goes back on the queue, where the call finds it. Any other unexpected response is dropped
with pynetdicom's warning as before, so that a stray answer from the peer under test is not
taken for the next one.

Patched when pynetdicom.association is first imported, so Python processes that never use
pynetdicom pay nothing for it.
"""
import importlib.util
import sys


def _patch(module):
    association = module.Association
    serve = association._serve_request

    def serve_request(self, msg, context_id):
        if getattr(msg, "is_valid_response", False) and not self._reactor_checkpoint.is_set():
            # At the head: it came before anything that arrived since it was taken.
            queue = self.dimse.msg_queue
            with queue.mutex:
                queue.queue.appendleft((context_id, msg))
                queue.unfinished_tasks += 1
                queue.not_empty.notify()
            return
        serve(self, msg, context_id)

    association._serve_request = serve_request


class _PatchOnImport:
    """A meta path finder (duck-typed: importlib.abc costs an import of its own)."""

    def find_spec(self, name, path, target=None):
        if name != "pynetdicom.association":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _patch(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PatchOnImport())
