"""The OpenTelemetry demo's load generator, against astroshop.

The demo's task mix, with its weights: browse products, read
recommendations and ads, view and fill a cart, check out one product or
several as one of the demo's shopper personas (tests/data/people.json), and,
while the fault flag loadGeneratorFloodHomepage is on, flood the home page.
Each request is named by its route, so the summary reads per route.

./shop load [URL] [--users N] [--minutes M] runs it; ASTROSHOP_FLAGS_URL
names the running local stack's flags (./shop load sets it), without which
the flood flag counts as off.
"""

import json
import os
import pathlib
import random
import time
import uuid

import requests
from locust import HttpUser, between, task

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The seeded catalogue, as the shop seeds it.
PRODUCTS = [
    product["id"]
    for product in json.loads((ROOT / "shared" / "seed" / "data" / "products.json").read_text())["products"]
]
CATEGORIES = ["binoculars", "telescopes", "accessories", "assembly", "travel", "books", None]
PEOPLE = json.loads((ROOT / "tests" / "data" / "people.json").read_text())
FLAGS_URL = os.environ.get("ASTROSHOP_FLAGS_URL", "")


class Flood:
    """The loadGeneratorFloodHomepage flag, read at most every 10 s."""

    def __init__(self):
        self.count = 0
        self.read_at = 0.0

    def requests(self):
        if not FLAGS_URL or time.monotonic() - self.read_at < 10:
            return self.count
        self.read_at = time.monotonic()
        try:
            listing = requests.get(f"{FLAGS_URL}/flags", timeout=2).json()
            value = next(f["value"] for f in listing if f["name"] == "loadGeneratorFloodHomepage")
            self.count = int(value.get("count", 0)) if value.get("enabled") else 0
        except Exception:  # the flags are optional: no stack, no flood
            self.count = 0
        return self.count


class Shopper(HttpUser):
    wait_time = between(1, 10)
    flood = Flood()

    def on_start(self):
        self.session_id = str(uuid.uuid4())

    @task(1)
    def index(self):
        self.client.get("/", name="/ (storefront)")

    @task(10)
    def browse_product(self):
        self.client.get(f"/api/products/{random.choice(PRODUCTS)}", name="/api/products/[id]")

    @task(3)
    def get_recommendations(self):
        self.client.get(
            "/api/recommendations",
            params={"productIds": [random.choice(PRODUCTS)]},
            name="/api/recommendations",
        )

    @task(3)
    def get_ads(self):
        category = random.choice(CATEGORIES)
        self.client.get("/api/data/", params={"contextKeys": [str(category)]}, name="/api/data")

    @task(3)
    def view_cart(self):
        self.client.get("/api/cart", params={"sessionId": self.session_id}, name="/api/cart (view)")

    @task(2)
    def add_to_cart(self, user=None):
        product = random.choice(PRODUCTS)
        self.client.get(f"/api/products/{product}", name="/api/products/[id]")
        self.client.post(
            "/api/cart",
            json={
                "item": {"productId": product, "quantity": random.choice([1, 2, 3, 4, 5, 10])},
                "userId": user or self.session_id,
            },
            name="/api/cart (add)",
        )

    def check_out(self, products):
        user = str(uuid.uuid4())
        for _ in range(products):
            self.add_to_cart(user=user)
        checkout = dict(random.choice(PEOPLE), userId=user)
        self.client.post(
            "/api/checkout",
            params={"currencyCode": checkout["userCurrency"]},
            json=checkout,
            name="/api/checkout",
        )

    @task(1)
    def checkout(self):
        self.check_out(1)

    @task(1)
    def checkout_multi(self):
        self.check_out(random.choice([2, 3, 4]))

    @task(5)
    def flood_home(self):
        for _ in range(self.flood.requests()):
            self.client.get("/", name="/ (flood)")
