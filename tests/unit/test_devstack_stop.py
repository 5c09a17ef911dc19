"""A local stack that fails to start must not overwrite the state saved by the last run."""

from devstack.stack import LocalStack, Options


class FakeEmulator:
    stopped = False

    def stop(self):
        self.stopped = True


def test_a_failed_start_keeps_the_saved_queues_and_logins(tmp_path):
    (tmp_path / "queues.json").write_text('[{"queue": "q", "body": "accepted earlier"}]')
    (tmp_path / "cognito-users.json").write_text('[{"username": "m1"}]')
    stack = LocalStack(Options(state_dir=tmp_path))
    stack.moto = FakeEmulator()  # moto came up, but the start failed before restoring state

    stack.stop()

    assert stack.moto.stopped
    assert "accepted earlier" in (tmp_path / "queues.json").read_text()
    assert "m1" in (tmp_path / "cognito-users.json").read_text()
