"""Pydantic models for the YAML knowledge base.

Every user-facing text is an `L10n` with Finnish, English and Swedish. Ids are short ASCII
strings because they travel in button payloads (Telegram allows 64 bytes) and are stored in
the database: renaming an id orphans stored answers, so ids are forever; labels are not.

Cross-file references (a tip names a question, a placement names tags) are checked in
`knowledge.loader`, which knows where every value came from and reports `file:line`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

LANGS: tuple[str, ...] = ("fi", "en", "sv")
Lang = Literal["fi", "en", "sv"]

Id = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,20}$")]
NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class L10n(Model):
    """One text in the three languages of the bot."""

    fi: NonEmpty
    en: NonEmpty
    sv: NonEmpty

    def get(self, lang: str) -> str:
        return getattr(self, lang if lang in LANGS else "fi")


class L10nList(Model):
    """Several phrasings of one thing, per language (FAQ questions)."""

    fi: list[NonEmpty] = Field(min_length=1)
    en: list[NonEmpty] = Field(min_length=1)
    sv: list[NonEmpty] = Field(min_length=1)

    def get(self, lang: str) -> list[str]:
        return getattr(self, lang if lang in LANGS else "fi")


# --------------------------------------------------------------------------- kartoitus


class Option(Model):
    """One answer button.

    `score` is 0..1 for scored questions and absent for profile questions. `na` marks
    "not relevant" (leaves the denominator), `dk` marks "don't know" (scores 0 and is
    listed as a data gap). An honest "it is not mine to know" answer of a tenant or a
    sole trader ("included in the rent", "I work alone") is `na`, never `dk`. In a checklist,
    `exclusive` clears the other ticks ("none of these") and `model` names the Sitra business
    model the item stands for. On a profile question, `weights` multiplies theme weights when
    the option is chosen (the company's most significant impacts weigh more).
    """

    id: Id
    label: L10n
    score: float | None = Field(default=None, ge=0, le=1)
    na: bool = False
    dk: bool = False
    exclusive: bool = False
    model: Id | None = None
    weights: dict[Id, float] = Field(default_factory=dict)


class RedFlag(Model):
    """A missing legal basic, raised when the answer is one of `when`.

    `ask_if` (profile question id -> option ids) limits it to the companies the law binds:
    an employer's duty is not raised for a sole trader."""

    when: list[Id] = Field(min_length=1)
    text: L10n
    ask_if: dict[Id, list[Id]] = Field(default_factory=dict)


class Question(Model):
    """A kartoitus question.

    `type`: `single` (one button: maturity scales, yes/no scales, number ranges, choices),
    `multi` (a checklist toggled in place and confirmed with Done) or `text` (free text).
    Options come either from a shared scale (`scale: maturity5`) or are listed inline.
    `ask_if` / `skip_if` map a profile question id to option ids: the question is asked
    only when (not) one of them was chosen. A `retired` question is never asked or scored;
    it stays so that answers given to an older version of the questionnaire can be read.
    """

    id: Id
    type: Literal["single", "multi", "text"]
    text: L10n
    help: L10n | None = None
    scale: Id | None = None
    options: list[Option] = Field(default_factory=list)
    weight: int = Field(default=1, ge=1, le=3)
    ask_if: dict[Id, list[Id]] = Field(default_factory=dict)
    skip_if: dict[Id, list[Id]] = Field(default_factory=dict)
    red_flag: RedFlag | None = None
    max_len: int = Field(default=1000, ge=1, le=4000)
    optional: bool = False
    retired: bool = False


class Theme(Model):
    id: Id
    title: L10n
    short: L10n  # axis label on the radar chart, at most 16 characters
    questions: list[Question] = Field(min_length=1)

    @field_validator("short")
    @classmethod
    def _short_fits_chart(cls, value: L10n) -> L10n:
        for lang in LANGS:
            if len(value.get(lang)) > 16:
                raise ValueError(f"short.{lang} is longer than 16 characters")
        return value


class ProfileWeight(Model):
    """Theme weights for companies whose profile matches `when` (all keys must match)."""

    when: dict[Id, list[Id]] = Field(min_length=1)
    themes: dict[Id, float] = Field(min_length=1)


class Level(Model):
    """A maturity level, reached when the overall score is at least `min` (0..100)."""

    id: Id
    min: float = Field(ge=0, le=100)
    label: L10n
    description: L10n


class BusinessModel(Model):
    """One of Sitra's five circular business models."""

    id: Id
    label: L10n
    description: L10n


class Questionnaire(Model):
    version: NonEmpty
    scales: dict[Id, list[Option]]
    profile: list[Question]
    themes: list[Theme] = Field(min_length=1)
    profile_weights: list[ProfileWeight] = Field(default_factory=list)
    levels: list[Level] = Field(min_length=2)
    models: list[BusinessModel] = Field(default_factory=list)


class Tip(Model):
    """A concrete next step, tied to one question and the answers that trigger it.

    For a single-choice question `when` lists the answer ids that make the tip relevant and
    `target` is the answer the company would give after following it (the "what if"). For a
    checklist, `when_missing` names the item whose absence makes the tip relevant; following
    the tip ticks it.

    `trades` (industry option ids) and `sizes` (size option ids) gate the tip: empty means
    every trade / size. A tip for the company's own trade ranks ahead of a generic one.
    """

    id: Id
    theme: Id
    question: Id
    when: list[Id] = Field(default_factory=list)
    target: Id | None = None
    when_missing: Id | None = None
    effort: int = Field(ge=1, le=3)  # 1 = an afternoon, 3 = a project
    impact: int = Field(ge=1, le=3)
    title: L10n
    text: L10n
    services: list[Id] = Field(default_factory=list)
    trades: list[Id] = Field(default_factory=list)
    sizes: list[Id] = Field(default_factory=list)


class TipBook(Model):
    tips: list[Tip] = Field(min_length=1)


# --------------------------------------------------------------------------- services


class Service(Model):
    """A local service or programme product a company or job seeker can turn to."""

    id: Id
    name: L10n
    provider: L10n
    description: L10n
    how: L10n | None = None
    url: Annotated[str, StringConstraints(pattern=r"^https://")] | None = None
    themes: list[Id] = Field(default_factory=list)
    audience: Literal["company", "jobseeker", "both"] = "company"


class ServiceBook(Model):
    services: list[Service] = Field(min_length=1)


# --------------------------------------------------------------------------- placements


class Tag(Model):
    id: Id
    label: L10n


class Partner(Model):
    id: Id
    name: NonEmpty
    description: L10n


class Placement(Model):
    """A kind of workshop (työpaja) the KIERTO partners ran during the project.

    The project has ended: a placement tells what the workshop was and what one learnt there,
    in the past tense where it is history; the operator's current offer is in operator.yaml.
    Optional fields stay out when the fact is not known (no invented tasks or equipment); the
    bot then simply does not mention them.
    """

    id: Id
    partner: Id | None = None
    name: L10n
    summary: L10n
    what_you_do: L10n | None = None
    what_you_learn: L10n | None = None
    interests: list[Id] = Field(min_length=1)
    skills: list[Id] = Field(default_factory=list)
    suits: L10n | None = None
    languages: list[Lang] = Field(default_factory=list)
    how_to_apply: L10n | None = None


class PlacementBook(Model):
    partners: list[Partner] = Field(min_length=1)
    interests: list[Tag] = Field(min_length=1)
    skills: list[Tag] = Field(default_factory=list)
    placements: list[Placement] = Field(min_length=1)


# --------------------------------------------------------------------------- FAQ


class FaqEntry(Model):
    """One answer and the ways people ask for it."""

    id: Id
    topic: Id
    questions: L10nList
    answer: L10n
    related: list[Id] = Field(default_factory=list)  # placement or service ids
    action: Literal["human", "kartoitus", "tyopaja", "settings"] | None = None  # a button
    # ids of entries merged into this one: buttons already sent and stored ids still find it
    formerly: list[Id] = Field(default_factory=list)


class FaqBook(Model):
    faq: list[FaqEntry] = Field(min_length=1)


class Concept(Model):
    """Words and phrases that mean the same thing to the FAQ matcher, per language."""

    id: Id
    fi: list[NonEmpty] = Field(default_factory=list)
    en: list[NonEmpty] = Field(default_factory=list)
    sv: list[NonEmpty] = Field(default_factory=list)

    def get(self, lang: str) -> list[str]:
        return getattr(self, lang)


class SynonymBook(Model):
    concepts: list[Concept] = Field(default_factory=list)


# --------------------------------------------------------------------------- operator

HttpsUrl = Annotated[str, StringConstraints(pattern=r"^https://\S+$")]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class Contact(Model):
    """An organisation's contact: its name and at least one way to reach it.

    Functional addresses only (kirjaamo@…, tietosuoja@…): a person's name, phone or e-mail
    does not belong in the knowledge base, because people change jobs and the bot outlives
    them.
    """

    name: L10n
    email: Email | None = None
    url: HttpsUrl | None = None
    how: L10n | None = None  # postal address, web form, opening hours…

    @model_validator(mode="after")
    def _reachable(self) -> Contact:
        if not (self.email or self.url or self.how):
            raise ValueError("give at least one of email, url or how")
        return self


class OperatorService(Model):
    """A service the operator (or a partner) offers today, with how to reach it."""

    id: Id
    name: L10n
    what: L10n
    for_whom: L10n
    audience: Literal["company", "jobseeker", "both"] = "both"
    url: HttpsUrl | None = None
    contact: L10n | None = None

    @model_validator(mode="after")
    def _reachable(self) -> OperatorService:
        if not (self.url or self.contact):
            raise ValueError("give a url or a contact")
        return self


class Privacy(Model):
    """What the operator, as data controller, decides; the bot describes what it stores."""

    purposes: L10n
    legal_basis: L10n
    recipients: L10n  # who else sees the data besides the operator's staff
    retention: L10n  # how long, in words the user understands
    retention_days: int = Field(ge=1, le=3650)  # the same period for the clean-up job


class Operator(Model):
    """Who runs this bot now. The KIERTO project ended in 2023; an operator carries it on.

    `contact` fills the `{contact}` placeholder in the other files' texts and `name` the
    `{operator}` one. `staff_answer` says whether people answer through the bot: while it
    is false the bot never promises that a person will reply.
    """

    name: L10n
    about: L10n  # one or two sentences: who the operator is and why it runs the bot
    contact: L10n  # how to reach the operator's people, for "{contact}"
    staff_answer: bool
    staff_text: L10n  # how and when a person answers (or that nobody answers through the bot)
    controller: Contact
    privacy_contact: Contact
    privacy: Privacy
    services: list[OperatorService] = Field(default_factory=list)


class OperatorFile(Model):
    example: bool = False  # true in the shipped example, until the operator fills it in
    operator: Operator
