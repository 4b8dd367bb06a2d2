"""Drives the tickwire venue simulator's Binance REST endpoint with Binance's official Python
connector (`binance-connector`): places, queries and cancels orders, and checks the simulator
answers the way the venue does (codes, fields, headers).

Run by tools/tests/sim_private_binance_python.rs, which starts the simulator and passes:
  SIM_BASE_URL       https://127.0.0.1:PORT
  SIM_API_KEY        the test account's key
  SIM_API_SECRET     its secret (never printed)
  REQUESTS_CA_BUNDLE the simulator's CA certificate (requests trusts it through this)
Exits non-zero with a message on the first mismatch; prints "OK" at the end.
"""

import os
import sys

from binance.error import ClientError
from binance.spot import Spot

SYMBOL = "TESTUSDT"


def check(cond, what):
    if not cond:
        print(f"FAIL: {what}", file=sys.stderr)
        sys.exit(1)


def expect_error(call, status, code, what):
    try:
        call()
    except ClientError as e:
        check(e.status_code == status and e.error_code == code,
              f"{what}: got HTTP {e.status_code} code {e.error_code} ({e.error_message})")
        return e
    check(False, f"{what}: no error raised")


def main():
    base = os.environ["SIM_BASE_URL"]
    key = os.environ["SIM_API_KEY"]
    secret = os.environ["SIM_API_SECRET"]
    client = Spot(api_key=key, api_secret=secret, base_url=base, show_limit_usage=True)

    info = client.exchange_info(symbol=SYMBOL)["data"]
    filters = {f["filterType"]: f for f in info["symbols"][0]["filters"]}
    check(filters["PRICE_FILTER"]["tickSize"] == "0.01000000", f"tick {filters}")

    # A bid that rests.
    r = client.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC",
                         quantity="1", price="95.00", newClientOrderId="py-1")
    placed = r["data"]
    check(placed["status"] == "NEW", f"resting order status {placed}")
    check(r["limit_usage"].get("x-mbx-order-count-10s") == "1", f"order count {r['limit_usage']}")
    check("x-mbx-used-weight-1m" in r["limit_usage"], f"weight header {r['limit_usage']}")
    order_id = placed["orderId"]

    got = client.get_order(SYMBOL, orderId=order_id)["data"]
    check(got["status"] == "NEW" and got["isWorking"] is True, f"get_order {got}")
    check(got["clientOrderId"] == "py-1", f"client id {got}")
    open_orders = client.get_open_orders(SYMBOL)["data"]
    check([o["orderId"] for o in open_orders] == [order_id], f"open orders {open_orders}")

    # A bid that crosses two ask levels: FULL answer with one fill per level.
    r = client.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", timeInForce="GTC",
                         quantity="2", price="100.50")
    filled = r["data"]
    check(filled["status"] == "FILLED", f"taker status {filled}")
    check([f["price"] for f in filled["fills"]] == ["100.00000000", "100.50000000"],
          f"fills {filled['fills']}")
    check(filled["cummulativeQuoteQty"] == "200.50000000", f"quote qty {filled}")
    check(r["limit_usage"].get("x-mbx-order-count-10s") == "2", f"order count {r['limit_usage']}")

    trades = client.my_trades(SYMBOL)["data"]
    check([t["id"] for t in trades] == [1, 2], f"my_trades {trades}")
    check(all(t["orderId"] == filled["orderId"] for t in trades), f"trade order ids {trades}")

    # Filter and engine rejections with the venue's codes.
    e = expect_error(lambda: client.new_order(symbol=SYMBOL, side="BUY", type="LIMIT",
                                              timeInForce="GTC", quantity="1", price="95.001"),
                     400, -1013, "tick filter")
    check(e.error_message == "Filter failure: PRICE_FILTER", f"tick message {e.error_message}")
    expect_error(lambda: client.new_order(symbol=SYMBOL, side="BUY", type="LIMIT_MAKER",
                                          quantity="1", price="101.00"),
                 400, -2010, "LIMIT_MAKER crossing")

    canceled = client.cancel_order(SYMBOL, origClientOrderId="py-1")["data"]
    check(canceled["status"] == "CANCELED" and canceled["orderId"] == order_id,
          f"cancel {canceled}")
    expect_error(lambda: client.cancel_order(SYMBOL, orderId=order_id), 400, -2011,
                 "second cancel")
    check(client.get_open_orders(SYMBOL)["data"] == [], "open orders after cancel")

    balances = {b["asset"]: b for b in client.account()["data"]["balances"]}
    check(balances["USDT"]["free"] == "9799.50000000", f"USDT {balances['USDT']}")
    check(balances["USDT"]["locked"] == "0.00000000", f"USDT locked {balances['USDT']}")

    listen_key = client.new_listen_key()["data"]["listenKey"]
    check(len(listen_key) == 60, f"listen key {listen_key!r}")

    # The wrong secret is refused.
    wrong = Spot(api_key=key, api_secret=secret + "x", base_url=base)
    expect_error(lambda: wrong.get_open_orders(SYMBOL), 400, -1022, "bad signature")
    print("OK")


if __name__ == "__main__":
    main()
