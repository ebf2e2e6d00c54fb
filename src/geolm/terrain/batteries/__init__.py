"""The batteries, by name, in the order they run."""

from geolm.terrain.batteries import embedding, hidden, weights, wordnet
from geolm.terrain.batteries.base import Battery, BatteryResult, skipped

BATTERIES: dict[str, Battery] = {
    b.name: b for b in (embedding.BATTERY, hidden.BATTERY, weights.BATTERY, wordnet.BATTERY)
}

__all__ = ["BATTERIES", "Battery", "BatteryResult", "skipped"]
