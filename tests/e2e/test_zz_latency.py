import json, threading, time
import numpy as np
from tests.e2e.test_streams import *  # noqa

def test_latency(scene, env, alice, token_for):
    vest, match, timeframe = scene
    token = token_for(alice)
    gw = token_for(None, scope="ingest")
    t0 = now_second_ms() - 200_000
    sent = running(vest.device_name, t0, 120)
    with services(env, 1) as base:
        pre = stream(base, f"/ws/v1/preprocessed-data/{vest.pk}/", token)
        comp = stream(base, f"/ws/v1/computed-data/{match.pk}/{timeframe.pk}/", token)
        comp.recv(5)
        pre_arr, comp_arr = {}, []
        stop = threading.Event()
        def rp():
            while not stop.is_set():
                try: m = json.loads(pre.recv(0.5)); pre_arr[m["gnss"]["timestamp"][0]] = time.monotonic()
                except TimeoutError: pass
        def rc():
            while not stop.is_set():
                try: m = json.loads(comp.recv(0.5)); comp_arr.append((m["last_timestamp"], time.monotonic()))
                except TimeoutError: pass
        threads = [threading.Thread(target=rp), threading.Thread(target=rc)]
        for t in threads: t.start()
        g = Gateway(base, gw); acks = {}
        for p in sent:
            acks[p["gnss"]["timestamp"][0]] = g.post([p]); time.sleep(0.1)
        time.sleep(5); stop.set()
        for t in threads: t.join()
    pre_lat = [pre_arr[k] - acks[k] for k in acks if k in pre_arr]
    comp_lat = []
    for k, a in acks.items():
        last = k + 900
        arr = [t for lt, t in comp_arr if lt is not None and lt >= last]
        if arr: comp_lat.append(min(arr) - a)
    print("\npreprocessed n=%d p50=%.1f ms p99=%.1f ms max=%.1f" % (len(pre_lat), np.percentile(pre_lat,50)*1000, np.percentile(pre_lat,99)*1000, max(pre_lat)*1000))
    print("computed n=%d p50=%.0f ms p99=%.0f ms max=%.0f; frames %d" % (len(comp_lat), np.percentile(comp_lat,50)*1000, np.percentile(comp_lat,99)*1000, max(comp_lat)*1000, len(comp_arr)))
