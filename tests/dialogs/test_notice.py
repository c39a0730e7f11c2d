"""Texts from the operator profile: the privacy notice names the controller, the purposes,
the legal basis, the retention, Telegram as a service outside the EU and the right to
complain; nothing promises a person unless the profile says staff answer."""

from __future__ import annotations

import pytest

from dialogs.notice import privacy_notice, self_assessment_notice, services_lines, who_answers
from knowledge.loader import Knowledge, load
from locales.i18n import I18n
from tests.knowledge.test_operator import copy_kb


@pytest.fixture(scope="module")
def filled(tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    return load(copy_kb(tmp_path_factory.mktemp("kb") / "kb"))


@pytest.fixture(scope="module")
def i18n() -> I18n:
    return I18n()


@pytest.mark.parametrize("lang", ["fi", "en", "sv"])
def test_privacy_notice_from_the_operator_profile(filled: Knowledge, i18n: I18n, lang: str) -> None:
    text = privacy_notice(i18n(lang), filled)
    op = filled.operator
    for value in (
        op.controller.name.get(lang),
        "kirjaamo@example.org",
        "tietosuoja@example.org",
        op.privacy.legal_basis.get(lang),
        op.privacy.retention.get(lang),
        "Telegram",
        "https://tietosuoja.fi",
        "/mydata",
        "/forget",
    ):
        assert value in text, value
    assert "Tietosuojavaltuutettu" in text or "tietosuojavaltuutetulle" in text.lower()


def test_the_privacy_notice_says_telegram_is_outside_the_eu(filled: Knowledge, i18n: I18n) -> None:
    assert "outside the EU" in privacy_notice(i18n("en"), filled)
    assert "EU:n ulkopuol" in privacy_notice(i18n("fi"), filled)
    assert "utanför EU" in privacy_notice(i18n("sv"), filled)


def test_no_promise_of_a_person_without_staff(
    example_kb: Knowledge, filled: Knowledge, i18n: I18n
) -> None:
    kb = example_kb
    assert not kb.staff_answer and filled.staff_answer
    en = i18n("en")
    assert "Nobody answers personally" in who_answers(en, kb)
    assert kb.operator.contact.get("en") in who_answers(en, kb)
    assert who_answers(en, filled) == filled.operator.staff_text.get("en")


def test_operator_services_by_audience(filled: Knowledge, i18n: I18n) -> None:
    jobseeker = services_lines(i18n("fi"), filled, "jobseeker")
    company = services_lines(i18n("fi"), filled, "company")
    assert len(jobseeker) == 1 and "Työnhaun ohjaus" in jobseeker[0]
    assert "https://example.org/ohjaus" in jobseeker[0]
    assert len(company) == 1 and "yritys@example.org" in company[0]


def test_self_assessment_notice_in_every_language(i18n: I18n) -> None:
    assert "not a certificate" in self_assessment_notice(i18n("en"))
