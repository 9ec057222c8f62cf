"""Generated tables that look like the ones users bring: ids, free text, dates, mostly empty columns, a leak.

Test code only (the demo data is steps/data/generator.py). Every table is seeded, so a test sees the same rows on
every run, and each function says which decision the feature plan should take for each column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_FIRST = ["John", "Mary", "William", "Anna", "James", "Elizabeth", "Thomas", "Margaret", "George", "Helen", "Karl",
          "Ingrid", "Patrick", "Bridget", "Ahmed", "Fatima"]
_LAST = ["Smith", "Brown", "Kelly", "Andersson", "Johnson", "Murphy", "Sage", "Goodwin", "Panula", "Rice", "Skoog",
         "Asplund", "Ford", "Harris", "Nasser", "Baclini", "Carter", "Allison", "Fortune", "Davies"]
_PLACES = ["New York, NY", "London", "Montreal, PQ", "Chicago, IL", "Paris, France", "Winnipeg, MN", "Sweden",
           "Belfast, NI", "Cornwall", "Philadelphia, PA", "Boston, MA", "Toronto, ON", "Ireland", "Finland",
           "Detroit, MI", "Washington, DC", "Bulgaria", "Lebanon", "Brooklyn, NY", "Ottawa, ON"]
_WORDS = np.array(["passenger", "asked", "about", "the", "cabin", "upgrade", "and", "was", "moved", "to", "deck",
                   "near", "stairs", "luggage", "delayed", "at", "port"])

# What the feature plan must decide for each column of `titanic_like` (and why), with the default validation
# settings (max_null_fraction 0.5).
TITANIC_DROPPED = {
    "PassengerId": "identifier",
    "Name": "free text",
    "Ticket": "too many categories",
    "Cabin": "mostly empty",
    "boat": "mostly empty",
    "body": "mostly empty",
}
TITANIC_FEATURES = {"Pclass", "Sex", "Age", "SibSp", "Parch", "Fare", "Embarked", "home.dest"}


def titanic_like(n: int = 891, seed: int = 0) -> pd.DataFrame:
    """A passenger list shaped like the public Titanic table: `Survived` depends on sex, class and age; Cabin (~77%),
    boat (~63%) and body (~91%) are mostly empty, Age has ~20% gaps, Name and PassengerId identify a row."""
    rng = np.random.default_rng(seed)
    pclass = rng.choice([1, 2, 3], n, p=[0.24, 0.21, 0.55])
    sex = rng.choice(["male", "female"], n, p=[0.65, 0.35])
    age = np.round(np.clip(rng.normal(29.7, 14.5, n), 0.42, 80.0), 1)
    logit = -1.2 + 2.5 * (sex == "female") - 1.0 * (pclass - 2) - 0.02 * (age - 30)
    survived = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    fare = np.round(rng.lognormal(3.0 - 0.5 * (pclass - 2), 0.7, n), 4)
    titles = np.where(sex == "female", rng.choice(["Mrs.", "Miss."], n), rng.choice(["Mr.", "Master."], n, p=[.9, .1]))
    names = [f"{rng.choice(_LAST)}, {t} {rng.choice(_FIRST)} {rng.choice(_FIRST)} ({i})" for i, t in enumerate(titles)]
    boat = np.where(((survived == 1) & (rng.random(n) < 0.95)) | (rng.random(n) < 0.01),
                    rng.choice(["1", "3", "5", "7", "9", "11", "13", "15", "A", "C", "D"], n), None)
    body = np.where((survived == 0) & (rng.random(n) < 0.16), rng.integers(1, 330, n).astype(float), np.nan)
    cabin = np.where(rng.random(n) < np.where(pclass == 1, 0.56, 0.14),
                     [f"{rng.choice(list('ABCDEF'))}{rng.integers(1, 130)}" for _ in range(n)], None)
    frame = pd.DataFrame({
        "PassengerId": np.arange(1, n + 1),
        "Survived": survived,
        "Pclass": pclass,
        "Name": names,
        "Sex": sex,
        "Age": np.where(rng.random(n) < 0.2, np.nan, age),
        "SibSp": rng.choice([0, 1, 2, 3, 4, 5, 8], n, p=[0.68, 0.23, 0.03, 0.02, 0.02, 0.01, 0.01]),
        "Parch": rng.choice([0, 1, 2, 3, 4, 5, 6], n, p=[0.76, 0.13, 0.08, 0.01, 0.01, 0.005, 0.005]),
        "Ticket": [f"{rng.choice(['', '', 'PC ', 'A/5 ', 'STON/O2. ', 'C.A. '])}{rng.integers(1000, 400000)}"
                   for _ in range(n)],
        "Fare": fare,
        "Cabin": cabin,
        "Embarked": rng.choice(["S", "C", "Q", None], n, p=[0.72, 0.19, 0.087, 0.003]),
        "boat": boat,
        "body": body,
        "home.dest": np.where(rng.random(n) < 0.43, None, rng.choice(_PLACES, n)),
    })
    return frame


# `messy_table` adds to `titanic_like`: what the plan decides for the extra columns, and the column that leaks.
MESSY_DROPPED = {**TITANIC_DROPPED, "booked_on": "timestamp", "remarks": "free text", "insurance_code": "mostly empty"}
MESSY_LEAK = "rescue_status"


def messy_table(n: int = 891, seed: int = 0) -> pd.DataFrame:
    """`titanic_like` plus a booking date (text), a free-text remark, another mostly empty column and a leak: a
    rescue status recorded after the fact that matches `Survived` in all but ~0.5% of rows."""
    rng = np.random.default_rng(seed + 1)
    frame = titanic_like(n, seed)
    frame["booked_on"] = pd.Timestamp("1912-01-02") + pd.to_timedelta(rng.integers(0, 95, n), unit="D")
    frame["booked_on"] = frame["booked_on"].dt.strftime("%Y-%m-%d")
    frame["remarks"] = [" ".join(rng.choice(_WORDS, rng.integers(6, 12))) for _ in range(n)]
    frame["insurance_code"] = np.where(rng.random(n) < 0.85, None, rng.choice(["X1", "Y2", "Z3"], n))
    flipped = rng.random(n) < 0.005
    frame[MESSY_LEAK] = np.where((frame["Survived"] == 1) ^ flipped, "rescued", "lost")
    return frame


# `house_prices`: a regression table. What the plan decides, and the column that leaks the target.
HOUSE_DROPPED = {"listing_id": "identifier", "listed_on": "timestamp", "description": "free text",
                 "pool_m2": "mostly empty", "garage_notes": "mostly empty"}
HOUSE_LEAK = "price_eur"


def house_prices(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """House sales: `price` from area, rooms, district and age; `price_eur` is the same price in another currency
    (a leak); `pool_m2` (~92%) and `garage_notes` (~70%) are mostly empty."""
    rng = np.random.default_rng(seed)
    area = np.round(rng.gamma(6.0, 18.0, n), 1)
    rooms = np.clip(np.round(area / 30 + rng.normal(0, 1, n)), 1, 12).astype(int)
    district = rng.choice(["north", "south", "centre", "harbour", "hills"], n)
    built = rng.integers(1900, 2024, n)
    price = (2500 * area + 8000 * rooms + pd.Series(district).map(
        {"north": 0, "south": -20000, "centre": 90000, "harbour": 40000, "hills": 60000}).to_numpy()
        - 300 * (2024 - built) + rng.normal(0, 25000, n)).round(-2) + 200000
    return pd.DataFrame({
        "listing_id": [f"L{i:05d}" for i in rng.permutation(n)],
        "listed_on": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")).strftime(
            "%d/%m/%Y"),
        "area_m2": area,
        "rooms": rooms,
        "district": district,
        "year_built": built,
        "description": [" ".join(rng.choice(_WORDS, rng.integers(7, 14))) for _ in range(n)],
        "pool_m2": np.where(rng.random(n) < 0.92, np.nan, np.round(rng.uniform(15, 60, n), 0)),
        "garage_notes": np.where(rng.random(n) < 0.7, None, rng.choice(["double", "single", "carport"], n)),
        HOUSE_LEAK: np.round(price * 0.92, 0),
        "price": price,
    })
