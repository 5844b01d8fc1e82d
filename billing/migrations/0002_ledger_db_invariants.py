"""The ledger's invariants, enforced by PostgreSQL rather than only by Python.

* Every transaction's entries sum to zero per currency, checked at COMMIT by a deferred constraint trigger
  (so a service can insert the lines one by one inside its transaction).
* A transaction has at least two entries (the same trigger, via the transaction row).
* Entries are immutable: UPDATE and DELETE raise. TRUNCATE is left alone so that test databases can be flushed.
* An entry's currency is its account's currency (composite foreign key).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION billing_ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT currency, sum(amount) AS total INTO bad
      FROM billing_ledgerentry WHERE transaction_id = NEW.transaction_id
     GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger transaction % does not balance in %: %', NEW.transaction_id, bad.currency, bad.total
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_transaction_balanced
    AFTER INSERT ON billing_ledgerentry DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_check_balanced();

CREATE FUNCTION billing_ledger_check_has_entries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT count(*) FROM billing_ledgerentry WHERE transaction_id = NEW.id) < 2 THEN
        RAISE EXCEPTION 'ledger transaction % has fewer than two entries', NEW.id
            USING ERRCODE = 'check_violation', CONSTRAINT = 'ledger_transaction_has_entries';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_transaction_has_entries
    AFTER INSERT ON billing_ledgertransaction DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_check_has_entries();

CREATE FUNCTION billing_ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_entry_immutable
    BEFORE UPDATE OR DELETE ON billing_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_refuse_change();

CREATE TRIGGER ledger_transaction_immutable
    BEFORE UPDATE OR DELETE ON billing_ledgertransaction
    FOR EACH ROW EXECUTE FUNCTION billing_ledger_refuse_change();

ALTER TABLE billing_ledgerentry
    ADD CONSTRAINT ledgerentry_currency_is_account_currency
    FOREIGN KEY (account_id, currency) REFERENCES billing_ledgeraccount (id, currency)
    DEFERRABLE INITIALLY DEFERRED;
"""

BACKWARD = """
ALTER TABLE billing_ledgerentry DROP CONSTRAINT ledgerentry_currency_is_account_currency;
DROP TRIGGER ledger_transaction_immutable ON billing_ledgertransaction;
DROP TRIGGER ledger_entry_immutable ON billing_ledgerentry;
DROP FUNCTION billing_ledger_refuse_change();
DROP TRIGGER ledger_transaction_has_entries ON billing_ledgertransaction;
DROP FUNCTION billing_ledger_check_has_entries();
DROP TRIGGER ledger_transaction_balanced ON billing_ledgerentry;
DROP FUNCTION billing_ledger_check_balanced();
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
