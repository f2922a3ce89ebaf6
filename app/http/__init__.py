"""The HTTP edge every request crosses: limits, trusted proxies, rate budgets, deadlines, metrics, error
rendering, the contract's post-processing and the FastAPI dependencies. It imports only the platform."""
