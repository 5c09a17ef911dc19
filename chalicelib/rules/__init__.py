"""The rules engine: activities (earning rules) compiled to closures, evaluated per event.

Pure: no AWS, no HTTP. ``activity.compile_activity`` checks and compiles one activity;
``engine.Ruleset`` indexes a brand's activities by trigger and evaluates events against them.
"""
