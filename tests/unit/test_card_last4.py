"""The card's last four digits: kept where the PAN was seen, carried to the analyst's case."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd
from asgi_client import AsgiClient
from fake_api import TEST_TOKENIZER, fake_api_context, fake_service
from transactions import make_txn

from fraudlens.importer import import_transactions, load_mapping
from fraudlens.scoring.result import ScoreResult, case_facts
from fraudlens.security import KeyRing
from fraudlens.simulator import SimulatorConfig, simulate
from ray_apps.api import create_api

PAN = "4000 0000 0000 0002"


class Recorded:
    """A decision sink that keeps what it is given."""

    def __init__(self) -> None:
        self.results: list[ScoreResult] = []

    def write(self, results: Sequence[ScoreResult]) -> None:
        self.results.extend(results)

    def close(self) -> None:
        pass


def _body(**fields: object) -> dict[str, object]:
    body = make_txn(1).model_dump(mode="json", exclude={"card_token"})
    return body | fields


def test_the_api_keeps_the_last_four_of_a_pan_for_the_case() -> None:
    sink = Recorded()
    service = fake_service(decisions=sink)
    service.warm_up()
    with AsgiClient(create_api(fake_api_context(service))) as api:
        assert api.post("/v1/score", json=_body(pan=PAN)).status_code == 200
        wrong = api.post("/v1/score", json=_body(pan=PAN, card_last4="1234"))
        assert wrong.status_code == 422
        assert "card_last4" in wrong.text and "0002" not in wrong.text
        malformed = api.post("/v1/score", json=_body(pan=PAN, card_last4="12a4"))
        assert malformed.status_code == 422 and "card_last4" in malformed.text
    assert [r.transaction["card_last4"] for r in sink.results] == ["0002"]
    assert sink.results[0].card_token == TEST_TOKENIZER.tokenize(PAN)


def test_case_facts_carry_the_last_four_and_no_other_card_data() -> None:
    facts = case_facts(make_txn(1, card_last4="0002"))
    assert facts["card_last4"] == "0002"
    assert "card_token" not in facts and "customer_id" not in facts
    assert case_facts(make_txn(2))["card_last4"] is None


def test_the_importer_keeps_the_last_four_of_the_pan(
    tmp_path: Path, pan_fixture_path: Callable[[str], Path]
) -> None:
    mapping = tmp_path / "map.yaml"
    mapping.write_text(
        "columns: {transaction_id: id, event_time: ts, pan: card, customer_id: c,"
        " terminal_id: t, merchant_id: m, amount: a}\n"
        "defaults: {currency: EUR, channel: card_present, entry_mode: chip, country: FR,"
        ' mcc: "5411"}\n'
    )
    source = pan_fixture_path("in.parquet")
    rows = {"ts": "2026-05-01T10:00:00Z", "card": PAN, "c": "C1", "t": "T1", "m": "M1", "a": 5.0}
    pd.DataFrame([{"id": 7, **rows}, {"id": 8, **rows, "card": "4111111111111111"}]).to_parquet(
        source
    )
    keyring = KeyRing("e1", {"e1": b"e" * 32})
    result = import_transactions(
        source, load_mapping(mapping), tmp_path / "out", TEST_TOKENIZER, keyring=keyring
    )
    txns = pd.read_parquet(result.transactions_path)
    assert txns["card_last4"].tolist() == ["0002", "1111"]


def test_simulated_cards_have_one_last_four_each() -> None:
    sim = simulate(SimulatorConfig(days=2, customers=100, terminals=30, seed=3), TEST_TOKENIZER)
    tx = sim.transactions
    assert tx["card_last4"].str.fullmatch(r"[0-9]{4}").all()
    assert (tx.groupby("card_token")["card_last4"].nunique() == 1).all()
