"""Texts built from the operator profile (knowledge/operator.yaml), shared by the flows.

Who runs the bot, who answers, what is on offer today and how personal data is handled all
come from one profile; these functions turn it into messages, so that no flow writes its own
"a coordinator will contact you". While the profile says no staff answer through the bot,
nothing here promises a person: the user is pointed to the operator's contact instead.
"""

from __future__ import annotations

from typing import Literal

from dialogs.ui import esc
from knowledge.loader import Knowledge
from knowledge.schema import Contact
from locales.i18n import Translator

Audience = Literal["company", "jobseeker"]

# The Data Protection Ombudsman's office: the supervisory authority in Finland.
OMBUDSMAN_URL = "https://tietosuoja.fi"


def self_assessment_notice(t: Translator) -> str:
    """One line for the results and the PDF: what the kartoitus is and is not."""
    return t._(
        "The KIERTO-kartoitus is a self-assessment and advice based on your own answers, "
        "not a certificate, an audit or an official decision."
    )


def contact_line(t: Translator, kb: Knowledge) -> str:
    """How to reach the operator's people (no promise that anyone writes first)."""
    return t._(
        "To reach {operator}: {contact}",
        operator=esc(kb.operator.name.get(t.lang)),
        contact=esc(kb.operator.contact.get(t.lang)),
    )


def who_answers(t: Translator, kb: Knowledge) -> str:
    """How and when a person answers, or, without staff, where to find one."""
    if kb.staff_answer:
        return esc(kb.operator.staff_text.get(t.lang))
    return "\n".join(
        (
            t._("Nobody answers personally through this bot at the moment."),
            contact_line(t, kb),
        )
    )


def _contact(t: Translator, contact: Contact) -> str:
    parts = [esc(contact.name.get(t.lang))]
    if contact.email:
        parts.append(esc(contact.email))
    if contact.url:
        parts.append(esc(contact.url))
    if contact.how:
        parts.append(esc(contact.how.get(t.lang)))
    return ", ".join(parts)


def privacy_notice(t: Translator, kb: Knowledge) -> str:
    """The /privacy message: controller, purposes, legal basis, what is stored and how long,
    recipients (Telegram included), rights and the right to complain."""
    op = kb.operator
    lang = t.lang
    sees = (
        t._(
            "The staff of {operator} see company results, contact requests and the questions you "
            "hand to a person, in order to answer them.",
            operator=esc(op.name.get(lang)),
        )
        if kb.staff_answer
        else t._(
            "The staff of {operator} can see company results and contact requests for statistics "
            "and to improve the bot.",
            operator=esc(op.name.get(lang)),
        )
    )
    sections = [
        t._("🔒 <b>Privacy</b>"),
        t._("<b>Who runs this bot:</b> {about}", about=esc(op.about.get(lang))),
        t._("<b>Data controller:</b> {contact}", contact=_contact(t, op.controller)),
        t._("<b>Privacy questions:</b> {contact}", contact=_contact(t, op.privacy_contact)),
        t._(
            "<b>What I store:</b> your Telegram user id (not your name or phone number), your "
            "language, where you are in a conversation, and what you tell me on purpose: "
            "kartoitus answers and your company's name, the placements you say you are "
            "interested in, questions I cannot answer, and questions you hand to a person."
        ),
        t._("<b>Why:</b> {purposes}", purposes=esc(op.privacy.purposes.get(lang))),
        t._("<b>Legal basis:</b> {basis}", basis=esc(op.privacy.legal_basis.get(lang))),
        t._(
            "<b>Who sees it:</b> {sees} {recipients}",
            sees=sees,
            recipients=esc(op.privacy.recipients.get(lang)),
        ),
        t._(
            "<b>Telegram:</b> our conversation travels through Telegram, a service based "
            "outside the EU that you chose to use; Telegram's own terms and privacy policy "
            "apply to it."
        ),
        t._("<b>How long:</b> {retention}", retention=esc(op.privacy.retention.get(lang))),
        t._(
            "<b>Your rights:</b> /mydata shows everything stored about you and /forget erases "
            "it at once, including from invitation lists. You may also ask the data controller "
            "to correct or restrict the processing of your data, and you have the right to "
            "complain to the Data Protection Ombudsman (Tietosuojavaltuutettu, {url}).",
            url=OMBUDSMAN_URL,
        ),
    ]
    return "\n\n".join(sections)


def services_lines(t: Translator, kb: Knowledge, audience: Audience) -> list[str]:
    """The operator's current services for this audience, each with how to reach it."""
    lines = []
    for service in kb.operator.services:
        if service.audience not in (audience, "both"):
            continue
        reach = service.url or (service.contact.get(t.lang) if service.contact else "")
        lines.append(
            t._(
                "<b>{name}</b>: {what} For: {whom} {reach}",
                name=esc(service.name.get(t.lang)),
                what=esc(service.what.get(t.lang)),
                whom=esc(service.for_whom.get(t.lang)),
                reach=esc(reach),
            ).strip()
        )
    return lines
