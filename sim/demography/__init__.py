"""One module per demographic process: fertility, mortality, migration, refugees.

Every function here is a pure function over numpy arrays indexed ``[..., sex, age]``
(sex 0 = male, 1 = female; ages 0..105, the last the open group 105+).
"""

N_AGES = 106
"""Ages 0..105; index 105 is the open group 105 and older."""
AGES = tuple(range(N_AGES))
SEXES = ("male", "female")

AGE_GROUPS = {
    "0": (0, 0), "1-5": (1, 5), "6-15": (6, 15), "16-19": (16, 19), "20-66": (20, 66),
    "67-79": (67, 79), "80-89": (80, 89), "90+": (90, 105),
}
"""Planning age groups (inclusive bounds): infants, barnehage, grunnskole, videregående,
working age, young old, old, oldest old."""


def age_group_weights(groups: dict[str, tuple[int, int]] | None = None):
    """0/1 weights [2, 106, G] that sum a [2, 106] population into the age groups."""
    import numpy as np

    groups = AGE_GROUPS if groups is None else groups
    weights = np.zeros((2, N_AGES, len(groups)))
    for g, (lo, hi) in enumerate(groups.values()):
        weights[:, lo : hi + 1, g] = 1.0
    return weights
