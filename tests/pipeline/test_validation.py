import pytest

from ingestbench.pipeline.validation import (
    ValidationError,
    check_event,
    validate_batch,
    validate_canary_ids,
    validate_profile,
    validate_single,
)

TS = 1_764_000_000_000


def ev(canary_id=None, **kw):
    props = {"canary_id": canary_id} if canary_id else {}
    base = {"name": "page_view", "userId": "u1", "anonymousId": None, "timestamp": TS, "properties": props}
    base.update(kw)
    return base


def reject(fn, *args, **kw) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        fn(*args, **kw)
    return info.value


def test_accepts_nested_properties_and_keeps_canary_id():
    props = {"canary_id": "c-1", "cart": {"items": [{"sku": "a", "qty": 2}], "total": 9.5}, "tags": [1, "x"]}
    row = check_event(ev(properties=props), index=None)
    assert row is not None and row.canary_id == "c-1"
    assert row.name == "page_view"


def test_many_properties_are_fine():
    props = {f"p{i}": i for i in range(5000)}
    assert check_event(ev(properties=props), index=None) is None  # valid, and not a canary


@pytest.mark.parametrize(
    ("event", "field", "words"),
    [
        ({"userId": "u", "timestamp": TS}, "$.name", "missing"),
        (ev(name=7), "$.name", "string"),
        (ev(name=""), "$.name", "empty"),
        (ev(name="x" * 201), "$.name", "200"),
        (ev(name="page view"), "$.name", "white space"),
        (ev(name="page\tview"), "$.name", "white space"),
        (ev(name="page\u00a0view"), "$.name", "white space"),
        (ev(userId=None, anonymousId=None), "$.userId", "userId or an anonymousId"),
        (ev(userId="", anonymousId=""), "$.userId", "userId or an anonymousId"),
        (ev(userId=5), "$.userId", "string"),
        (ev(timestamp="2026-01-01"), "$.timestamp", "milliseconds"),
        (ev(timestamp=True), "$.timestamp", "milliseconds"),
        (ev(timestamp=None), "$.timestamp", "milliseconds"),
        (ev(timestamp=1_764_000_000), "$.timestamp", "seconds"),
        (ev(properties=[1, 2]), "$.properties", "object"),
        (ev(properties="x"), "$.properties", "object"),
        (ev(deviceData=3), "$.deviceData", "object"),
    ],
)
def test_event_rules(event, field, words):
    err = reject(check_event, event, index=None)
    assert err.status == 400
    assert err.field == field
    assert words in err.error


def test_name_of_exactly_200_chars_is_accepted():
    row = check_event(ev("c", name="x" * 200), index=None)
    assert row is not None and row.name == "x" * 200


def test_anonymous_only_is_accepted():
    row = check_event(ev("c", userId=None, anonymousId="a1"), index=None)
    assert row is not None and (row.user_id, row.anonymous_id) == (None, "a1")


def test_batch_counts_every_event_and_indexes_only_canaries():
    accepted = validate_batch({"events": [ev(), ev("c-9"), ev(), ev("c-7")]}, max_batch=10)
    assert accepted.n_events == 4
    assert [(r.position, r.canary_id) for r in accepted.canaries] == [(1, "c-9"), (3, "c-7")]


def test_non_string_canary_id_is_an_ordinary_event():
    assert check_event(ev(properties={"canary_id": 5}), index=None) is None


def test_batch_error_names_index_and_path():
    err = reject(validate_batch, {"events": [ev(), ev(), ev(name="bad name")]}, max_batch=10)
    assert (err.index, err.field, err.status) == (2, "$.events[2].name", 400)
    assert err.body() == {"error": err.error, "field": "$.events[2].name", "index": 2}


@pytest.mark.parametrize("doc", [[], "x", 3, None, {"events": {}}, {"events": "x"}, {"events": []}, {}])
def test_batch_wrong_top_level(doc):
    assert reject(validate_batch, doc, max_batch=10).status == 400


def test_batch_too_many_events_is_413():
    err = reject(validate_batch, {"events": [ev()] * 11}, max_batch=10)
    assert err.status == 413
    assert "at most 10" in err.error


@pytest.mark.parametrize("doc", [[ev()], "x", 1, None])
def test_single_wrong_top_level(doc):
    assert reject(validate_single, doc).field == "$"


def test_profile_rules():
    assert validate_profile({"userId": "u", "properties": {"plan": "pro"}})[0] == "u"
    assert reject(validate_profile, {"properties": {}}).field == "$.userId"
    assert reject(validate_profile, {"userId": "u", "properties": []}).field == "$.properties"
    assert reject(validate_profile, [1]).field == "$"


def test_canary_ids_rules():
    assert validate_canary_ids({"canary_ids": ["a", "b"]}, max_ids=5) == ["a", "b"]
    assert reject(validate_canary_ids, {"canary_ids": ["a", 1]}, max_ids=5).field == "$.canary_ids[1]"
    assert reject(validate_canary_ids, {"canary_ids": ["a"] * 6}, max_ids=5).status == 413
    assert reject(validate_canary_ids, {"ids": []}, max_ids=5).field == "$.canary_ids"
