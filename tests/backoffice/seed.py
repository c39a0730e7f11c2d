"""Made-up kartoitus data for the back office tests and screenshots (deterministic)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from dialogs.scoring import applies, best_tips, score
from dialogs.store.db import Database
from dialogs.store.models import utcnow
from knowledge.loader import Knowledge

NAMES = [
    "Tampereen Kierrätys Oy",
    "Pirkan Puu Oy",
    "Hervannan Leipomo",
    "Kalevan Korjaamo",
    "Nekalan Metalli Oy",
    "Lielahden Logistiikka",
    "Pispalan Kahvila",
    "Härmälän Rakennus",
    "Sammon Sähkö Oy",
    "Tesoman Tekstiili",
    "Linnainmaan IT",
    "Amurin Antikvariaatti",
    "Kaukajärven Kukka",
    "Messukylän Muovi Oy",
]


def answers_for(kb: Knowledge, rng: random.Random, industry: str, size: str) -> dict[str, Any]:
    answers: dict[str, Any] = {"industry": industry, "size": size}
    for qid, question in kb.questions.items():
        if qid in answers or not applies(question, answers):
            continue
        options = kb.options.get(qid, ())
        if question.type == "text":
            continue
        if question.type == "multi":
            plain = [o.id for o in options if not o.exclusive]
            answers[qid] = rng.sample(plain, k=min(len(plain), rng.randint(1, 3)))
        else:
            answers[qid] = rng.choice(options).id
    return answers


async def seed(
    db: Database,
    kb: Knowledge,
    count: int = 12,
    industry: str = "manufacturing",
    first_name: str | None = None,
    note: str = "Voisimmeko jutella pakkauksista?",
) -> list[int]:
    """`count` companies with one finished kartoitus each (the first also a retake, an
    unfinished one at the end), all of one industry so that peer groups fill. Returns the
    company ids."""
    rng = random.Random(7)
    sizes = ["micro", "small", "medium"]
    ids = []
    async with db.unit() as repo:
        for i in range(count):
            user_id = 1000 + i
            await repo.users.lock(user_id, "fi")
            name = first_name if (i == 0 and first_name) else NAMES[i % len(NAMES)]
            company = await repo.companies.add(user_id, name, f"{1234560 + i}-{i % 10}")
            assert company.id is not None
            ids.append(company.id)
            rounds = 2 if i == 0 else 1
            for r in range(rounds):
                assessment = await repo.assessments.add(
                    company.id, user_id, kb.questionnaire.version
                )
                assessment.started_at = utcnow() - timedelta(
                    days=7 * (count - i) + 30 * (rounds - r - 1)
                )
                answers = answers_for(kb, rng, industry, sizes[i % 3])
                if i == 0:
                    answers["pe5"] = note
                assert assessment.id is not None
                for qid, value in answers.items():
                    is_text = kb.questions[qid].type == "text"
                    await repo.answers.put(
                        assessment.id,
                        qid,
                        assessment.version,
                        None if is_text else value,
                        value if is_text else None,
                    )
                result = score(kb, answers)
                assessment.status = "done"
                assessment.completed_at = assessment.started_at + timedelta(minutes=12)
                assessment.overall = round(result.overall, 1)
                assessment.level = result.level
                tips = best_tips(kb, answers)
                assessment.result = {
                    **result.as_json(),
                    "tips": [[t.tip.id, round(t.gain, 1)] for t in tips],
                }
            if i % 4 == 0:
                assert assessment.id is not None
                await repo.contacts.add(user_id, company.id, assessment.id)
                await repo.tickets.add(
                    user_id, "fi", f"contact:{assessment.id}", f"Contact request: {name}"
                )
        # one left half-way
        open_one = await repo.assessments.add(ids[-1], 1000 + count - 1, kb.questionnaire.version)
        open_one.position = "ma1"
        assert open_one.id is not None
        await repo.answers.put(open_one.id, "industry", open_one.version, industry, None)
        await repo.tickets.add(1001, "fi", "faq", "Milloin seuraava haastepaja on?")
        repo.misses.add(1002, "fi", "Saako jätemaksuista alennusta?", None, 0.1)
        await repo.interests.add(1003, "nextiili_textiles", {})
        await repo.votes.put(1003, "nextiili_textiles", 1)
    return ids
