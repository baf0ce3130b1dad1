from core_banking.domain.commands import Deposit, Withdraw
from support.banking import CONTEXT, funded_account, key, money


async def test_a_deposit_and_a_withdrawal(bank):
    account = await funded_account(bank, "100.00")
    assert account.posted_minor == 10000
    await bank.ledger.withdraw(Withdraw(account.id, money("40.00"), key()), CONTEXT)
    assert (await bank.accounts.get(account.id)).posted_minor == 6000
    await bank.ledger.deposit(Deposit(account.id, money("1.00"), key()), CONTEXT)
