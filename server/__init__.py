"""The practice's relay server: accounts, prekeys, vault and envelopes it cannot read."""
