"""Who takes part in the demo: twenty members with the explainer's data types at different
volumes and qualities, three buyers and the licenses they pay for. Figures only, no logic."""

from dataclasses import dataclass

DECIMALS = 6
UNIT = 10**DECIMALS
#: Wei each wallet starts with, for gas.
FUNDING = 10 * 10**18


@dataclass(frozen=True)
class Profile:
    name: str
    data_type: str
    records: int
    quality: str
    uniqueness: str


MEMBERS = (
    Profile("Amara", "health", 1_200, "0.95", "0.8"),
    Profile("Bilal", "health", 800, "0.9", "0.6"),
    Profile("Chen", "health", 300, "0.7", "0.2"),
    Profile("Dara", "financial", 1_000, "0.85", "0.5"),
    Profile("Emeka", "financial", 450, "0.6", "0.1"),
    Profile("Farah", "financial", 2_000, "0.9", "0.9"),
    Profile("Goran", "location", 5_000, "0.8", "0.3"),
    Profile("Hana", "location", 3_200, "0.75", "0.4"),
    Profile("Ines", "location", 900, "0.5", "0"),
    Profile("Jonas", "purchases", 4_000, "0.9", "0.2"),
    Profile("Kemi", "purchases", 2_500, "0.8", "0.5"),
    Profile("Luca", "purchases", 600, "0.4", "0.1"),
    Profile("Mei", "social", 7_000, "0.7", "0.3"),
    Profile("Nour", "social", 1_500, "0.95", "0.7"),
    Profile("Oskar", "browsing", 20_000, "0.6", "0.1"),
    Profile("Priya", "browsing", 12_000, "0.85", "0.2"),
    Profile("Quinn", "browsing", 8_000, "0.5", "0"),
    Profile("Rafa", "device_metadata", 30_000, "0.9", "0"),
    Profile("Sofia", "device_metadata", 10_000, "0.7", "0.1"),
    Profile("Tariq", "device_metadata", 50_000, "0.3", "0"),
)

#: Members who claim everything from their own wallet after the first deposits.
DIRECT_CLAIMERS = ("Amara", "Dara", "Goran", "Jonas", "Mei")
PARTIAL_CLAIMER = "Farah"  # claims half of what she has earned
GASLESS_CLAIMER = "Priya"  # signs a Claim; the relayer submits it and pays the gas
LEAVER = "Oskar"  # leaves the union, then claims what he earned before leaving
DELETER = "Tariq"  # asks for deletion of his off-chain data before epoch 2
#: Contributions made during epoch 2: (member, records).
SECOND_EPOCH_CONTRIBUTIONS = (("Chen", 700), ("Ines", 1_100), ("Nour", 500))


@dataclass(frozen=True)
class Offer:
    slug: str
    title: str
    price: int


LICENSES = (
    Offer("clinical-notes-2026", "De-identified clinical notes, 2026 cohort", 12_000 * UNIT),
    Offer("retail-baskets", "Retail basket panel, monthly", 7_500 * UNIT),
    Offer("mobility-heatmaps", "Mobility heat maps, city level", 4_000 * UNIT),
)

#: The plain transfer that sync() turns into revenue (licenseId 0): an odd amount on purpose.
PLAIN_TRANSFER = 2_500 * UNIT + 123_457

BUYERS = ("Helix Labs", "Shopwise", "Cartograph")
