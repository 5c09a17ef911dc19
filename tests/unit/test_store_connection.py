"""One DynamoDB client per process: every model and every transaction share it (building a
botocore client costs ~0.1 s of CPU; a container used to build one per model and per transaction)."""

import botocore.session


def test_every_model_and_transaction_shares_one_client_built_once(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")  # unique to this test: a fresh one
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "unit")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "unit")
    from chalicelib.store import base
    from chalicelib.store.events import EventItem
    from chalicelib.store.members import EnrolmentItem, ProfileItem

    built = []
    real = botocore.session.Session.create_client
    monkeypatch.setattr(botocore.session.Session, "create_client",
                        lambda self, *a, **k: built.append(a[0]) or real(self, *a, **k))
    for model in (EventItem, ProfileItem, EnrolmentItem):
        monkeypatch.setattr(model, "_connection", None)

    clients = {id(model._get_connection().connection.client) for model in (EventItem, ProfileItem, EnrolmentItem)}
    clients |= {id(base.connection().client) for _ in range(3)}

    assert len(clients) == 1
    assert built == ["dynamodb"]
    assert base.connection().client.meta.endpoint_url == "http://127.0.0.1:1"
