# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_runner_global_optspecs
    string join \n config= home= json wait q/quiet v/verbose h/help V/version
end

function __fish_runner_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_runner_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_runner_using_subcommand
    set -l cmd (__fish_runner_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c runner -n "__fish_runner_needs_command" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_needs_command" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_needs_command" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_needs_command" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_needs_command" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_needs_command" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c runner -n "__fish_runner_needs_command" -s V -l version -d 'Print version'
complete -c runner -n "__fish_runner_needs_command" -f -a "init" -d 'Write a commented runner.toml in DIR (default: .) and create the on-disk layout'
complete -c runner -n "__fish_runner_needs_command" -f -a "status" -d 'Show the mode, queue counts per environment, the oldest pending patch and the last runs'
complete -c runner -n "__fish_runner_needs_command" -f -a "config" -d 'Show the effective settings, with secrets redacted'
complete -c runner -n "__fish_runner_needs_command" -f -a "mode" -d 'Show the mode, or set it: auto, manual, paused or lockdown'
complete -c runner -n "__fish_runner_needs_command" -f -a "approve" -d 'Approve a pending patch (by id, the oldest with `next`, or `all`) for the next apply-patch run'
complete -c runner -n "__fish_runner_needs_command" -f -a "preview" -d 'Show the change a queued patch would make, without writing anything'
complete -c runner -n "__fish_runner_needs_command" -f -a "revert" -d 'Restore the files a patch changed from its backup (by id, or `last`)'
complete -c runner -n "__fish_runner_needs_command" -f -a "retry" -d 'Queue a failed patch again'
complete -c runner -n "__fish_runner_needs_command" -f -a "apply-patch" -d 'Apply a patch to a tree directly, or process an environment\'s queue'
complete -c runner -n "__fish_runner_needs_command" -f -a "serve-webhook" -d 'Listen for patches (POST /webhook), Slack commands, status, dashboard and metrics'
complete -c runner -n "__fish_runner_needs_command" -f -a "archive-summaries" -d 'Move summaries older than a threshold into summaries/.archive/YYYY/MM/'
complete -c runner -n "__fish_runner_needs_command" -f -a "gen-docs" -d 'Regenerate patch-manifest.json, README.md and INDEX.md for each environment'
complete -c runner -n "__fish_runner_needs_command" -f -a "health-check" -d 'Run the configured health checks once; exit 1 when any is unhealthy'
complete -c runner -n "__fish_runner_needs_command" -f -a "watchdog" -d 'Probe each configured component once and restart the unhealthy, within their budget'
complete -c runner -n "__fish_runner_needs_command" -f -a "dashboard-link" -d 'Print a signed, expiring URL that opens the dashboard without the token'
complete -c runner -n "__fish_runner_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c runner -n "__fish_runner_using_subcommand init" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand init" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand init" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand init" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand init" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand init" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand init" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand status" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand status" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand status" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand status" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand status" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand status" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand status" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand status" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand config" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand config" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand config" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand config" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand config" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand config" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand config" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand mode" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand mode" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand mode" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand mode" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand mode" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand mode" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand mode" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c runner -n "__fish_runner_using_subcommand approve" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand approve" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand approve" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand approve" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand approve" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand approve" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand approve" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand approve" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand preview" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand preview" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand preview" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand preview" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand preview" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand preview" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand preview" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand preview" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand revert" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand revert" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand revert" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand revert" -l force -d 'Restore even files that changed since the patch was applied'
complete -c runner -n "__fish_runner_using_subcommand revert" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand revert" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand revert" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand revert" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand revert" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand retry" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand retry" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand retry" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand retry" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand retry" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand retry" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand retry" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand retry" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -s t -l tree -d 'Apply FILE directly to this tree, like `git apply`; needs no config and no home' -r -F
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -l format -d 'Read the patch as this format instead of detecting it' -r -f -a "json\t'JSON envelope with `patch` text or `operations`'
unified\t'Unified diff, git-style or plain'
codex\t'Codex `*** Begin Patch` envelope'
search-replace\t'`<<<<<<< SEARCH` / `=======` / `>>>>>>> REPLACE` blocks'
legacy\t'The seed system\'s legacy JSON shapes'"
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -s p -d 'Strip N leading components from paths in a diff (`a/` and `b/` are recognised without it)' -r
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -l check -d 'Report what would happen without writing anything'
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand apply-patch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -l listen -d 'Address to listen on (default: the config\'s server.listen, 127.0.0.1:5555)' -r
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -l threads -d 'Worker threads (default: the config\'s server.threads)' -r
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand serve-webhook" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -l older-than -d 'Archive summaries last modified longer ago than this (default: the config\'s docs.archive_after, 2d)' -r
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -l prune-backups -d 'Also remove backups of applied patches older than AGE that revert can no longer need' -r
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -l dry-run -d 'Say what would move without moving it'
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand archive-summaries" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -s e -l env -d 'Environment to act on (default: the config\'s default_env)' -r
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -l check -d 'Write nothing; exit 1 when a file would change'
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -l all -d 'Also index hidden and archive directories'
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand gen-docs" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand health-check" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand health-check" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand health-check" -l alert -d 'Post to Slack when a check changes state'
complete -c runner -n "__fish_runner_using_subcommand health-check" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand health-check" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand health-check" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand health-check" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand health-check" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand watchdog" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand watchdog" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand watchdog" -l dry-run -d 'Probe and say what would be done, without stopping or starting anything'
complete -c runner -n "__fish_runner_using_subcommand watchdog" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand watchdog" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand watchdog" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand watchdog" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand watchdog" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -l ttl -d 'How long the link opens the dashboard (the session it starts lasts server.session_ttl)' -r
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -l config -d 'Read this config file instead of $RUNNER_CONFIG or ./runner.toml' -r -F
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -l home -d 'Keep state, queues and logs in DIR instead of the config\'s `home`' -r -F
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -l json -d 'Print a machine-readable JSON report on stdout'
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -l wait -d 'Wait for a lock another run holds instead of exiting 75'
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -s q -l quiet -d 'Print nothing but errors'
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -s v -l verbose -d 'Say more about what is done (repeat for more)'
complete -c runner -n "__fish_runner_using_subcommand dashboard-link" -s h -l help -d 'Print help'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "init" -d 'Write a commented runner.toml in DIR (default: .) and create the on-disk layout'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "status" -d 'Show the mode, queue counts per environment, the oldest pending patch and the last runs'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "config" -d 'Show the effective settings, with secrets redacted'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "mode" -d 'Show the mode, or set it: auto, manual, paused or lockdown'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "approve" -d 'Approve a pending patch (by id, the oldest with `next`, or `all`) for the next apply-patch run'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "preview" -d 'Show the change a queued patch would make, without writing anything'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "revert" -d 'Restore the files a patch changed from its backup (by id, or `last`)'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "retry" -d 'Queue a failed patch again'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "apply-patch" -d 'Apply a patch to a tree directly, or process an environment\'s queue'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "serve-webhook" -d 'Listen for patches (POST /webhook), Slack commands, status, dashboard and metrics'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "archive-summaries" -d 'Move summaries older than a threshold into summaries/.archive/YYYY/MM/'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "gen-docs" -d 'Regenerate patch-manifest.json, README.md and INDEX.md for each environment'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "health-check" -d 'Run the configured health checks once; exit 1 when any is unhealthy'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "watchdog" -d 'Probe each configured component once and restart the unhealthy, within their budget'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "dashboard-link" -d 'Print a signed, expiring URL that opens the dashboard without the token'
complete -c runner -n "__fish_runner_using_subcommand help; and not __fish_seen_subcommand_from init status config mode approve preview revert retry apply-patch serve-webhook archive-summaries gen-docs health-check watchdog dashboard-link" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c runner -n "__fish_runner_using_subcommand mode" -f -a "auto" -d 'Apply pending and approved patches'
complete -c runner -n "__fish_runner_using_subcommand mode" -f -a "manual" -d 'Apply only approved patches'
complete -c runner -n "__fish_runner_using_subcommand mode" -f -a "paused" -d 'Apply nothing; keep accepting patches'
complete -c runner -n "__fish_runner_using_subcommand mode" -f -a "lockdown" -d 'Apply nothing and refuse new patches'
