"""Infrastructure every domain shares: database, Redis, queues, schedules, errors, i18n, limits."""
