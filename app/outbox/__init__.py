"""The transactional outbox: each change a party outside the request must hear of (the effector's feed
and webhook, the national platform, the SAMU through the Hub Santé) is an event written in the same
transaction as the change; readers go through it each at their own pace, under cursors of their own."""
