from tests.accounts.push_fixtures import eager_celery, fcm, locmem_push

__all__ = ["eager_celery", "fcm", "locmem_push"]
