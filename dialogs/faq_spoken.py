"""Spoken and chat language to the written forms the FAQ matcher knows.

Young people type Finnish as they speak it: "saaks siit mitää rahaa" for "saako siitä
mitään rahaa". Two kinds of rule bring such words back to written Finnish:

1. `standard(word)`: certain, applied to questions and FAQ phrasings alike.
   - A small lexicon of spoken forms whose written form is unambiguous: pronouns
     (mä, sä, mun, sulle…, and the eastern mie, sie, miulle), oikeen, vaa, mitää, tiiä,
     tehä, oon, and slang (duuni, himas, amis, massit)…
   - Question clitics: -ks, -kse, -kos and -kös become -ko/-kö ("saaks", "pitääks",
     "onks", "voikos" → saako, pitääkö, onko, voiko); -ks after a consonant and a short
     vowel is the translative -ksi instead ("työttömäks", "englanniks").
2. `repairs(word)`: guesses for a word the knowledge base does not know, tried in order
   and kept only when one of them is a known word (see `FaqMatcher`). Spoken Finnish
   drops the end of a word: the vowel of -ssa/-lla/-sta/-tä (pajas, siel, siit, töit),
   the final -i (puol, kaks), a final -n (mitää, kukaa, töihi) or -t of a participle
   (soittanu), the -a of -na (mukan), the -ja of a plural partitive (paikkoi, korttei);
   -ea/-ia sound -ee/-ii (tukee, tuntii); the i of a diphthong goes (ilmottaa, millasia,
   ilmanen); -ts- is said -tt- (kattoo, ettii, kattomas). Because a guess is
   kept only when the FAQ or the synonym table knows it, "mies" never becomes "miessä".

Swedish and English get a lexicon of chat spellings only (nåt, int, u, wanna…).
"""

from __future__ import annotations

# Spoken Finnish -> written Finnish, for forms that mean one thing only.
_FI: dict[str, str] = {
    # pronouns
    "mä": "minä",
    "mää": "minä",
    "sä": "sinä",
    "sää": "sinä",
    "mun": "minun",
    "sun": "sinun",
    "mulle": "minulle",
    "sulle": "sinulle",
    "mulla": "minulla",
    "sulla": "sinulla",
    "multa": "minulta",
    "mua": "minua",
    "sua": "sinua",
    "musta": "minusta",
    "susta": "sinusta",
    "sulta": "sinulta",
    "meijän": "meidän",
    "teijän": "teidän",
    "meiän": "meidän",
    "teiän": "teidän",
    "kaa": "kanssa",
    "siihe": "siihen",
    "tähä": "tähän",
    "ite": "itse",
    "ittelle": "itselle",
    "itelle": "itselle",
    "nää": "nämä",
    "noi": "nuo",
    # small words
    "oikeen": "oikein",
    "oikeesti": "oikeasti",
    "vaa": "vaan",
    "mitää": "mitään",
    "mitäs": "mitä",
    "mites": "miten",
    "mikäs": "mikä",
    "missäs": "missä",
    "kukas": "kuka",
    "mihis": "mihin",
    "niinku": "niin",
    "sit": "sitten",
    "ku": "kun",
    "et": "että",
    "jotai": "jotain",
    "jotaki": "jotain",
    "sillee": "siten",
    "semmonen": "sellainen",
    "tollanen": "tuollainen",
    "tällanen": "tällainen",
    "ees": "edes",
    "eiks": "eikö",
    "siel": "siellä",
    "viel": "vielä",
    "vielkää": "vieläkään",
    "vieläkää": "vieläkään",
    "johonki": "johonkin",
    "jossai": "jossain",
    "tääl": "täällä",
    "siin": "siinä",
    "täs": "tässä",
    "siit": "siitä",
    "tost": "tosta",
    "puol": "puoli",
    "kaks": "kaksi",
    "yks": "yksi",
    "viis": "viisi",
    "kuus": "kuusi",
    "miks": "miksi",
    "mis": "missä",
    "kelle": "kenelle",
    "kenel": "kenellä",
    "kenelt": "keneltä",
    "ny": "nyt",
    "millon": "milloin",
    "millo": "milloin",
    "sillon": "silloin",
    "sillo": "silloin",
    "tän": "tämän",
    "ton": "tuon",
    "oikee": "oikea",
    "päivis": "päivisin",
    "aamusin": "aamuisin",
    "iltasin": "iltaisin",
    # verbs
    "oon": "olen",
    "ooks": "oletko",
    "oonko": "olenko",
    "ootko": "oletko",
    "ootsä": "oletko",
    "ooksä": "oletko",
    "oot": "olet",
    "oo": "ole",
    "olee": "olla",
    "ollu": "ollut",
    "tiiä": "tiedä",
    "tiiän": "tiedän",
    "tehä": "tehdä",
    "tehää": "tehdään",
    "tehään": "tehdään",
    "nähä": "nähdä",
    "käyä": "käydä",
    "tuu": "tule",
    "mee": "mene",
    "meen": "menen",
    "meet": "menet",
    "tuun": "tulen",
    "tuut": "tulet",
    "tarvii": "tarvitsee",
    "tarviin": "tarvitsen",
    "tarttee": "tarvitsee",
    "tarttisin": "tarvitsisin",
    "tartten": "tarvitsen",
    "tarttis": "tarvitsisi",
    "tehny": "tehnyt",
    "tartteeko": "tarvitseeko",
    "kattoo": "katsoa",
    "kattomaan": "katsomaan",
    "kattoa": "katsoa",
    "haluun": "haluan",
    "pitäis": "pitäisi",
    "pitäs": "pitäisi",
    "vois": "voisi",
    "voisko": "voisiko",
    "pitäiskö": "pitäisikö",
    "ois": "olisi",
    "olis": "olisi",
    "sais": "saisi",
    "kannattais": "kannattaisi",
    # nouns and numerals
    "eka": "ensimmäinen",
    "ekana": "ensimmäisenä",
    "ekaks": "ensiksi",
    "duuni": "työ",
    "duunit": "työt",
    "duuniin": "työhön",
    "duunis": "työssä",
    "duunissa": "työssä",
    "duunia": "työtä",
    "hommat": "työt",
    "fyrkka": "raha",
    "fyrkkaa": "rahaa",
    "massi": "raha",
    "massii": "rahaa",
    "kämppä": "asunto",
    "sossu": "sosiaalityöntekijä",
    "sossun": "sosiaalityöntekijän",
    "enkku": "englanti",
    "enkkua": "englantia",
    "enkuks": "englanniksi",
    "suomee": "suomea",
    "ruotsii": "ruotsia",
    "englantii": "englantia",
    "harjottelu": "harjoittelu",
    "harjotteluun": "harjoitteluun",
    "tarkottaa": "tarkoittaa",
    "tarkotetaan": "tarkoitetaan",
    "tarkotettu": "tarkoitettu",
    "ilmottaa": "ilmoittaa",
    "ilmottautua": "ilmoittautua",
    "alottaa": "aloittaa",
    # eastern and south-western forms
    "mie": "minä",
    "sie": "sinä",
    "miun": "minun",
    "siun": "sinun",
    "miulle": "minulle",
    "siulle": "sinulle",
    "miulla": "minulla",
    "siulla": "sinulla",
    "miult": "minulta",
    "miust": "minusta",
    "misä": "missä",
    "mittää": "mitään",
    "tehhä": "tehdä",
    "tehhää": "tehdään",
    "mite": "miten",
    # slang
    "himas": "kotona",
    "himassa": "kotona",
    "himaan": "kotiin",
    "himaa": "kotiin",
    "amis": "ammattikoulu",
    "amikses": "ammattikoulussa",
    "amikseen": "ammattikouluun",
    "massit": "rahat",
    "kolkyt": "kolmekymmentä",
    "kakskyt": "kaksikymmentä",
}
# Words ending in -ks/-s that are not a clitic.
_NOT_CLITIC = {"kaks", "yks", "miks", "ks", "fiks", "boks", "koks", "maks", "taks", "raks"}

_SV: dict[str, str] = {
    "nåt": "något",
    "nån": "någon",
    "nåra": "några",
    "int": "inte",
    "e": "är",
    "mej": "mig",
    "dej": "dig",
    "sej": "sig",
    "å": "och",
    "va": "vad",
    "hur's": "hur",
    "jobba": "arbeta",
    "funkar": "fungerar",
}

_EN: dict[str, str] = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "wanna": "want",
    "gonna": "going",
    "gotta": "must",
    "dont": "don't",
    "cant": "can't",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "bc": "because",
    "cuz": "because",
    "smth": "something",
    "sth": "something",
    "wat": "what",
    "wht": "what",
    "whats": "what",
    "hw": "how",
}

LEXICON = {"fi": _FI, "sv": _SV, "en": _EN}
_BACK = set("aou")
_VOWELS = set("aeiouyäö")  # Finnish vowel harmony: a word with a back vowel takes -a, else -ä


def _harmony(word: str) -> str:
    return "a" if any(c in _BACK for c in word) else "ä"


def standard(word: str, lang: str) -> str:
    """The written form of a spoken or chat word, when it is certain; else the word."""
    written = LEXICON.get(lang, {}).get(word)
    if written is not None:
        return written
    if word[-1:] in ("v", "y") and word[:-1].isdigit():  # "32v", "25y": an age
        return word[:-1]
    if lang != "fi" or word in _NOT_CLITIC:
        return word
    # question clitics: onkse, voikos -> onko, voiko
    for clitic in ("kse", "kös", "kos"):
        if word.endswith(clitic) and len(word) - len(clitic) >= 2:
            base = word[: -len(clitic)]
            return base + ("ko" if _harmony(base) == "a" else "kö")
    # -ks is the clitic on a verb (saaks, pitääks, voiks, onks, voinks: the base ends in a
    # long vowel, a diphthong or the -n of a person) and the translative -ksi on a noun or
    # adjective (työttömäks, englanniks, ilmaseks: a consonant and a short vowel)
    if word.endswith("ks") and len(word) >= 4:
        base = word[:-2]
        if base[-1] == "n" or (base[-1] in _VOWELS and base[-2] in _VOWELS):
            return base + ("ko" if _harmony(base) == "a" else "kö")
        if base[-1] in _VOWELS:
            return base + "ksi"
    return word


def repairs(word: str) -> list[str]:
    """Written Finnish forms a spoken, clipped word may stand for, most likely first."""
    if len(word) < 3 or not word.isalpha():
        return []
    out = _repairs(word)
    # spoken -tt- for -ts- (kattoo, ettiä, mettä -> katsoa, etsiä, metsä), also with a
    # clipped end (kattomas -> katsomassa)
    at = word.find("tt", 1)
    if at > 0:
        written = word[:at] + "ts" + word[at + 2 :]
        out += [written, *_repairs(written)]
    return out


def _repairs(word: str) -> list[str]:
    a = _harmony(word)
    last = word[-1]
    out: list[str] = []
    if word.endswith(("nu", "ny")):  # soittanu, tehny -> soittanut, tehnyt
        out.append(word + "t")
    if last == "s":  # pajas, työpajas -> pajassa
        out += [word + "s" + a, word + a]
    elif last == "l":  # pajal, pajoil -> pajalla, pajoilla
        out += [word + "l" + a, word + "le", word + "lt" + a]
    elif last == "t":  # töit, paikkoit -> töitä
        out += [word + a, word + "t" + a]
    elif word[-2:] in {"aa", "ää", "ee", "ii", "oo", "uu", "yy", "öö"}:
        out.append(word + "n")  # mitää, kukaa, kokonaa -> mitään, kukaan, kokonaan
        if last in "eiou":  # tukee, tuntii, helppoo -> tukea, tuntia, helppoa
            out.append(word[:-1] + a)
    if last == "n":  # mukan -> mukana
        out.append(word + a)
    if last == "i" and word[-2] in _VOWELS and word[-2] != "i":
        out += [word[:-1] + "j" + a, word + "t" + a]  # paikkoi, korttei, töi -> paikkoja…, töitä
    if last not in "aeiouyäö":  # puol, kaks -> puoli, kaksi
        out.append(word + "i")
    elif word[-2:] not in {"aa", "ää", "ee", "ii", "oo", "uu", "yy", "öö"}:
        out.append(word + "n")  # töihi, jonku, johonki -> töihin, jonkun, johonkin
    # a diphthong's i dropped: ilmottaa, alottaa, millasia, semmosta -> ilmoittaa, aloittaa…
    for short, full in (
        ("ot", "oit"),
        ("as", "ais"),
        ("äs", "äis"),
        ("os", "ois"),
        ("anen", "ainen"),  # ilmanen, osa-aikanen -> ilmainen, osa-aikainen
        ("änen", "äinen"),
    ):
        at = word.find(short, 1)
        if at > 0:
            out.append(word[:at] + full + word[at + len(short) :])
    return out
