def get_assert(output, context):
    want = str(context["vars"]["a"] - context["vars"]["b"])
    return {"pass": want in output, "score": 1.0 if want in output else 0.0, "reason": "looked for " + want}


def strict(output, context):
    return output.strip() == context["vars"]["want"]
