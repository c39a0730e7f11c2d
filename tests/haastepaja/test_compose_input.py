"""Bad input while composing: each gets a clear answer and loses nothing typed before."""

from __future__ import annotations

from dialogs.haastepaja.fields import DESCRIPTION_MAX


async def at_step(staff, step: str) -> str:
    async with staff.engine.db.unit() as repo:
        return (await repo.states.get(staff.user_id)).step


async def test_bad_dates_capacity_and_description(app, chat, frozen) -> None:
    staff = chat(7, "fi")
    await staff.send("/newevent")
    await staff.send("Haaste")
    for typed, answer in (
        ("ensi tiistaina", "En saanut tuosta selvää"),
        ("5.2.2020 klo 13", "on jo mennyt"),
        ("31.2. klo 13", "Sellaista päivää ei ole"),
        ("ti 5.2.2027 klo 13", "pe"),  # the weekday does not match
        ("5.2. 15-13", "Lopun pitää olla alun jälkeen"),
    ):
        await staff.send(typed)
        assert answer in staff.last.text, typed
        assert await at_step(staff, "start") == "start"
    await staff.send("5.2. klo 13")
    await staff.send("12")  # an end before the start
    assert "Lopun pitää olla alun jälkeen" in staff.last.text
    await staff.send("15.30")
    await staff.send("Tampere")
    for typed in ("0", "lots", "-3", "100000"):
        await staff.send(typed)
        assert "numeroina" in staff.last.text, typed
    await staff.send("25")
    await staff.send("6.2.")  # a deadline after the start
    assert "ennen alkua" in staff.last.text
    await staff.send("3.2.")
    await staff.send("x" * (DESCRIPTION_MAX + 1))
    assert "Lyhennä" in staff.last.text
    await staff.send("Kuvaus.")
    await staff.press("hpc:more:done")
    check = staff.last.text
    assert "Haaste" in check and "pe 5.2.2027 klo 13.00–15.30" in check
    assert "Paikkoja: 25" in check and "ke 3.2.2027 klo 23.59" in check


async def test_change_a_field_from_the_read_back(app, chat, frozen) -> None:
    staff = chat(7, "fi")
    await staff.send("/newevent")
    for typed in ("Haaste", "5.2. 13-15", "Tampere", "10"):
        await staff.send(typed)
    await staff.press("hpc:dl:none")
    await staff.send("Kuvaus.")
    await staff.press("hpc:more:done")
    await staff.press("hpc:check:e.start")
    await staff.send("6.2. 9-11")
    assert "la 6.2.2027 klo 9.00–11.00".replace("9.00", "09.00") in staff.last.text
    assert "Tampere" in staff.last.text and "Paikkoja: 10" in staff.last.text
    await staff.press("hpc:check:e.place")
    await staff.press("hpc:place:online")
    await staff.send("ei linkki")
    assert "https://" in staff.last.text
    await staff.send("https://meet.example/abc")
    assert "https://meet.example/abc" in staff.last.text and "Tarkista" in staff.last.text


async def test_only_staff_and_only_in_private(app, chat, frozen) -> None:
    someone = chat(55, "fi")
    await someone.send("/newevent")
    assert "henkilökunnalle" in someone.last.text
    await someone.send("/events")
    assert await at_step(someone, "") == ""
    await someone.press("hpe:1:open")
    assert someone.toasts[-1].text
