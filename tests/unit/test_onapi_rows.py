"""An access in a listing, written by template, is byte for byte ``json.dumps`` of its document."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from serviceguide.services.onapi import PREMISES, _services, access_doc, access_json

pytestmark = pytest.mark.unit

text = st.one_of(st.text(), st.sampled_from(["", 'Väg "1"', "a\\b", "\x00\x1f\u2028", "Åsa"]))
premises = st.one_of(st.sampled_from([*PREMISES, "SOMETHING_NEW"]), st.text())
rows = st.tuples(text, text, text, text, text, text, text, premises, text, text)


@given(row=rows, uids=st.lists(st.text(), max_size=3))
def test_an_access_is_written_as_json_dumps_writes_its_document(row, uids):
    services = _services(uids)
    expected = json.dumps(access_doc(row, services), ensure_ascii=False)
    assert access_json(row, json.dumps(services, ensure_ascii=False)) == expected
